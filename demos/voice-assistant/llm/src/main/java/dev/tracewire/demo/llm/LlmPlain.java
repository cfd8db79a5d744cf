package dev.tracewire.demo.llm;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.glassfish.tyrus.server.Server;
import sun.misc.Signal;

/**
 * The llm service written as plain Jakarta code on Tyrus, with no tracewire code: the same
 * contract and protocol as {@link Llm}, the same {@link StandInModel}. Its only telemetry code is
 * the chat span, made with the OpenTelemetry API on {@code GlobalOpenTelemetry}; run under the
 * OpenTelemetry Java agent with tracewire's extension ({@code make demo AGENT=1}), the agent
 * configures the SDK from {@code OTEL_*} and the extension traces the handshake and every
 * message. Without the agent it runs untraced.
 *
 * <pre>java -javaagent:opentelemetry-javaagent.jar -Dotel.javaagent.extensions=tracewire-javaagent-extension-0.1.0.jar
 *      -Dotel.instrumentation.tracewire.model=connection -cp llm.jar dev.tracewire.demo.llm.LlmPlain
 *      [--host 127.0.0.1] [--port 0]</pre>
 */
public final class LlmPlain {
  private LlmPlain() {}

  public static void main(String[] args) {
    Service.main(args, LlmPlain::run);
  }

  private static void run(Service.Options options) throws Exception {
    AtomicInteger started = new AtomicInteger();
    ExecutorService workers =
        Executors.newFixedThreadPool(
            2,
            task -> {
              Thread worker = new Thread(task, "llm-worker-" + started.incrementAndGet());
              worker.setDaemon(true);
              return worker;
            });
    LlmPlainEndpoint.use(new StandInModel(options.pace()), workers);
    Server server = Service.start(options, Map.of(), LlmPlainEndpoint.class);

    // SIGTERM and SIGINT end the wait below and the process exits 0, which runs the agent's
    // shutdown hook (it flushes the spans). A shutdown hook of our own could not do both: the
    // JVM's code for SIGTERM is 143, and halting with 0 would cut the agent's flush short.
    CountDownLatch stop = new CountDownLatch(1);
    Signal.handle(new Signal("TERM"), signal -> stop.countDown());
    Signal.handle(new Signal("INT"), signal -> stop.countDown());
    Service.ready(options, server);
    stop.await();
    server.stop();
    workers.shutdownNow();
    // Interrupted answers end their spans before the agent's flush.
    workers.awaitTermination(5, TimeUnit.SECONDS);
    System.exit(0);
  }
}
