package dev.tracewire.demo.llm;

import dev.tracewire.TracingModel;
import dev.tracewire.websocket.WebSocketLimits;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import jakarta.websocket.DeploymentException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.glassfish.tyrus.core.TyrusWebSocketEngine;
import org.glassfish.tyrus.server.Server;

/**
 * The voice assistant's language-model stand-in: serves {@code /llm} on Tyrus with tracewire's
 * configurator and answers each chat request with streamed tokens from a worker pool. The
 * contract is in demos/README.md.
 *
 * <pre>java -jar llm.jar [--host 127.0.0.1] [--port 0]</pre>
 */
public final class Llm {
  private Llm() {}

  public static void main(String[] args) {
    try {
      run(args);
    } catch (IllegalArgumentException e) {
      System.err.println("llm: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      // Autoconfigure wraps the reason ("Unexpected configuration error"): name it.
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      System.err.println("llm: cannot start: " + e.getMessage() + (cause != e ? ": " + cause : ""));
      System.exit(1);
    }
  }

  private static void run(String[] args) throws Exception {
    String host = "127.0.0.1";
    int port = 0;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--host" -> host = required(args[i], value);
        case "--port" -> port = Integer.parseInt(required(args[i], value));
        default -> throw new IllegalArgumentException(
            "unknown argument " + args[i] + "\nusage: llm [--host 127.0.0.1] [--port 0]");
      }
      i++;
    }
    // Fails early, with the reason, on a bad TRACEWIRE_MODEL (the configurator reads it too).
    TracingModel.parse(System.getenv().getOrDefault("TRACEWIRE_MODEL", "connection"));
    double pace = pace();

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
    Generator generator = new Generator(pace, 2);
    LlmEndpoint.use(generator);
    Server server = bind(host, port);

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
    System.out.println("READY ws://" + host + ":" + server.getPort() + "/llm");
    System.out.flush();
    stopped.await();
  }

  /**
   * Starts Tyrus. Its standalone server reads port 0 as "the default, 8025", so for 0 a free
   * port is found first (and another tried if something takes it in between).
   */
  private static Server bind(String host, int port) throws Exception {
    for (int attempt = 1; ; attempt++) {
      int chosen = port;
      if (port == 0) {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName(host))) {
          chosen = probe.getLocalPort();
        }
      }
      // Tyrus reads a whole frame into its incoming buffer before any size check
      // (TracedSession's comes after): bound the buffer by the frame limit plus the
      // largest frame header (14 bytes), so an oversized frame is refused unread.
      Map<String, Object> properties =
          Map.of(TyrusWebSocketEngine.INCOMING_BUFFER_SIZE, WebSocketLimits.MAX_FRAME_SIZE + 14);
      Server server = new Server(host, chosen, "/", properties, LlmEndpoint.class);
      try {
        server.start();
        return server;
      } catch (DeploymentException e) {
        if (port != 0 || attempt == 5) {
          throw e;
        }
      }
    }
  }

  private static String serviceName() {
    String name = System.getenv("OTEL_SERVICE_NAME");
    return name == null || name.isBlank() ? "llm" : name;
  }

  private static double pace() {
    String raw = System.getenv().getOrDefault("DEMO_PACE", "1");
    try {
      double pace = Double.parseDouble(raw);
      if (pace >= 0) {
        return pace;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("DEMO_PACE=" + raw + ": expected a non-negative number");
  }

  private static String required(String name, String value) {
    if (value == null) {
      throw new IllegalArgumentException(name + " needs a value");
    }
    return value;
  }
}
