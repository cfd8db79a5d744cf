package dev.tracewire.demo.llm;

import dev.tracewire.TracingModel;
import dev.tracewire.websocket.WebSocketLimits;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.glassfish.tyrus.core.TyrusWebSocketEngine;
import org.glassfish.tyrus.server.Server;

/**
 * The voice assistant's language-model stand-in: serves {@code /llm} on Tyrus with tracewire's
 * configurator and answers each chat request with streamed tokens from a worker pool. The
 * contract is in demos/README.md; {@link LlmPlain} is the same service without tracewire code.
 *
 * <pre>java -jar llm.jar [--host 127.0.0.1] [--port 0]</pre>
 */
public final class Llm {
  private Llm() {}

  public static void main(String[] args) {
    Service.main(args, Llm::run);
  }

  private static void run(Service.Options options) throws Exception {
    // Fails early, with the reason, on a bad TRACEWIRE_MODEL (the configurator reads it too).
    TracingModel.parse(System.getenv().getOrDefault("TRACEWIRE_MODEL", "connection"));

    // OTEL_* configure export; OTEL_SDK_DISABLED=true gives a no-op SDK.
    OpenTelemetrySdk sdk =
        AutoConfiguredOpenTelemetrySdk.builder()
            // Defaults the environment overrides: OTLP/HTTP is the protocol the
            // jar carries a sender for (autoconfigure's own default is gRPC).
            .addPropertiesSupplier(
                () ->
                    Map.of(
                        "otel.service.name", serviceName(),
                        "otel.exporter.otlp.protocol", "http/protobuf"))
            .setResultAsGlobal()
            .build()
            .getOpenTelemetrySdk();
    Generator generator = new Generator(new StandInModel(options.pace()), 2);
    LlmEndpoint.use(generator);
    // Tyrus reads a whole frame into its incoming buffer before any size check
    // (TracedSession's comes after): bound the buffer by the frame limit plus the
    // largest frame header (14 bytes), so an oversized frame is refused unread.
    Server server =
        Service.start(
            options,
            Map.of(TyrusWebSocketEngine.INCOMING_BUFFER_SIZE, WebSocketLimits.MAX_FRAME_SIZE + 14),
            LlmEndpoint.class);

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  server.stop();
                  generator.shutdown();
                  // Flush first: a bare shutdown here reported success but the queued spans
                  // never reached the receiver (the JDK sender stops with the export in flight).
                  sdk.getSdkTracerProvider().forceFlush().join(5, TimeUnit.SECONDS);
                  sdk.shutdown().join(5, TimeUnit.SECONDS);
                  stopped.countDown();
                  // A stop on request is a clean exit (the JVM's own code for SIGTERM is 143).
                  Runtime.getRuntime().halt(0);
                },
                "llm-shutdown"));
    Service.ready(options, server);
    stopped.await();
  }

  private static String serviceName() {
    String name = System.getenv("OTEL_SERVICE_NAME");
    return name == null || name.isBlank() ? "llm" : name;
  }
}
