package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.context.Scope;
import io.opentelemetry.instrumentation.annotations.WithSpan;
import java.lang.management.ManagementFactory;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs in its own JVM under the OpenTelemetry Java agent (see the pom's {@code agent-tests}
 * execution): spans made through tracewire's API join the agent's trace, and the agent's
 * executor instrumentation carries the context into a thread pool task.
 */
class AgentTest {
  /** What one hop observed. */
  record Hop(SpanContext outer, SpanContext process, SpanContext inTask, SpanContext sendInTask) {}

  @Test
  void theAgentIsRunning() {
    assertTrue(
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .anyMatch(a -> a.startsWith("-javaagent:") && a.contains("opentelemetry-javaagent")),
        "this test must run under the agent");
    Span s = GlobalOpenTelemetry.getTracer("probe").spanBuilder("probe").startSpan();
    assertTrue(s.isRecording(), "the agent's SDK records spans (no SDK was set by the test)");
    s.end();
  }

  @Test
  void oneTraceAcrossAThreadPoolHop() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Hop hop = handleMessage(pool);
      // The agent made the @WithSpan span; ours are in its trace.
      assertTrue(hop.outer().isValid() && hop.outer().isSampled());
      assertEquals(hop.outer().getTraceId(), hop.process().getTraceId(), "process span joins the agent's trace");
      assertNotEquals(hop.outer().getSpanId(), hop.process().getSpanId());
      // The plain thread pool task ran in the process span's context (agent propagation)...
      assertEquals(hop.process(), hop.inTask(), "context carried into the task");
      // ...and a span made there through our API is in the same trace.
      assertEquals(hop.outer().getTraceId(), hop.sendInTask().getTraceId());
    } finally {
      pool.shutdown();
      pool.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @WithSpan("agent-made handler span")
  Hop handleMessage(ExecutorService pool) throws Exception {
    SpanContext outer = Span.current().getSpanContext();
    ConnectionModel model =
        new ConnectionModel(TracingModel.CONNECTION, ConnectionModel.Role.SERVER, "s-1", "/chat", null, -1);
    ConnectionTracer tracer = new ConnectionTracer(ConnectionTracer.globalTracer(), model);
    // The handshake carried the agent span's context: the accept span is its child.
    tracer.open(TraceContext.current());
    // A message that carries the agent span's context, as a peer would send it.
    Decoded d = BinaryEnvelope.decode(BinaryEnvelope.encode(TraceContext.current(), new byte[] {1}));
    try (Received r = Received.start(tracer, d, MessageType.BINARY)) {
      SpanContext process = r.span().getSpanContext();
      Future<SpanContext[]> f =
          pool.submit(
              () -> {
                SpanContext inTask = Span.current().getSpanContext();
                Span send = tracer.startSend(MessageType.TEXT, 3);
                try (Scope ignored = send.makeCurrent()) {
                  return new SpanContext[] {inTask, send.getSpanContext()};
                } finally {
                  send.end();
                }
              });
      SpanContext[] got = f.get(10, TimeUnit.SECONDS);
      return new Hop(outer, process, got[0], got[1]);
    } finally {
      tracer.close(1000, "");
    }
  }
}
