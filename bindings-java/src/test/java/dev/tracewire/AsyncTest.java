package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.metrics.SdkMeterProvider;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.testing.exporter.InMemoryMetricReader;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Queue carriers, the executor wrapper and stream metrics across threads. */
class AsyncTest {
  private static Context sampleContext() {
    return Context.root()
        .with(Span.wrap(SpanContext.create(
            "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(),
            TraceState.builder().put("rojo", "1").build())))
        .with(Baggage.builder().put("user", "alice").build());
  }

  @Test
  void carrierRoundTripThroughAQueueItem() {
    byte[] carrier = ContextCarrier.capture(sampleContext());
    assertTrue(carrier.length >= 30 && carrier.length < 80, "small: " + carrier.length);
    Context restored = ContextCarrier.restore(carrier);
    SpanContext sc = Span.fromContext(restored).getSpanContext();
    assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", sc.getTraceId());
    assertEquals("00f067aa0ba902b7", sc.getSpanId());
    assertTrue(sc.isRemote());
    assertEquals("1", sc.getTraceState().get("rojo"));
    assertEquals("alice", Baggage.fromContext(restored).getEntryValue("user"));
  }

  @Test
  void executorWrapperRunsTasksInTheSubmittersContext() throws Exception {
    ExecutorService pool = TracingExecutorService.wrap(Executors.newFixedThreadPool(2));
    try {
      Future<String> inside;
      try (Scope ignored = sampleContext().makeCurrent()) {
        inside = pool.submit(() -> Span.current().getSpanContext().getTraceId() + "/" + Baggage.current().getEntryValue("user"));
      }
      assertEquals("4bf92f3577b34da6a3ce929d0e0e4736/alice", inside.get(5, TimeUnit.SECONDS));
      // Without a context, the task has none (nothing leaks between tasks).
      assertFalse(pool.submit(() -> Span.current().getSpanContext().isValid()).get(5, TimeUnit.SECONDS));
      List<java.util.concurrent.Callable<String>> tasks = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        tasks.add(() -> Span.current().getSpanContext().getSpanId());
      }
      try (Scope ignored = sampleContext().makeCurrent()) {
        for (Future<String> f : pool.invokeAll(tasks)) {
          assertEquals("00f067aa0ba902b7", f.get());
        }
      }
    } finally {
      pool.shutdown();
      assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
    }
  }

  @Test
  void streamMetricsFromManyThreads() throws Exception {
    int threads = 4;
    int each = 5000;
    try (StreamMetrics m = new StreamMetrics(StreamMetrics.Kind.GENERIC)) {
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        fs.add(pool.submit(() -> {
          start.await();
          for (int i = 0; i < each; i++) {
            m.recordChunk(3);
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : fs) {
        f.get(30, TimeUnit.SECONDS);
      }
      pool.shutdown();
      StreamMetrics.Snapshot s = m.snapshot(true);
      assertEquals((long) threads * each, s.chunkCount());
      assertEquals(3L * threads * each, s.bytes());
      assertEquals(threads * each - 1, s.intervals().length);
      assertTrue(s.timeToFirstChunk().getAsDouble() <= s.timeToLastChunk().getAsDouble());
    }
  }

  @Test
  void closeWhileRecordingIsSafe() throws Exception {
    for (int round = 0; round < 20; round++) {
      StreamMetrics m = new StreamMetrics(StreamMetrics.Kind.MODEL_OUTPUT);
      ExecutorService pool = Executors.newFixedThreadPool(2);
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        fs.add(pool.submit(() -> {
          try {
            for (int i = 0; i < 100_000; i++) {
              m.recordChunk(1);
            }
          } catch (IllegalStateException closed) {
            // expected once closed
          }
        }));
      }
      Thread.sleep(1);
      m.close();
      for (Future<?> f : fs) {
        f.get(30, TimeUnit.SECONDS);
      }
      pool.shutdown();
    }
  }

  @Test
  void unclosedMetricsAreCleanedUp() throws Exception {
    for (int i = 0; i < 2000; i++) {
      new StreamMetrics(StreamMetrics.Kind.GENERIC).recordChunk(1);
      JsonEnvelope.atPath("a.b");
    }
    System.gc();
    Thread.sleep(200);
  }

  @Test
  void histogramsAndSpanAttributesUseTheCoresNames() {
    InMemoryMetricReader reader = InMemoryMetricReader.create();
    try (SdkMeterProvider provider = SdkMeterProvider.builder().registerMetricReader(reader).build()) {
      StreamMetrics.Instruments inst =
          StreamMetrics.instruments(provider.get("test"), StreamMetrics.Kind.MODEL_OUTPUT);
      try (StreamMetrics m = new StreamMetrics(StreamMetrics.Kind.MODEL_OUTPUT)) {
        m.recordChunkAt(100_000_000L, 10);
        m.recordChunkAt(150_000_000L, 20);
        m.recordChunkAt(250_000_000L, 30);
        inst.record(m, Attributes.of(AttributeKey.stringKey("gen_ai.operation.name"), "chat"));
        StreamMetrics.Snapshot s = m.snapshot();
        assertEquals(0.1, s.timeToFirstChunk().getAsDouble(), 1e-12);
        assertEquals(0.075, s.intervalMean().getAsDouble(), 1e-12);
        Set<String> keys = new java.util.HashSet<>();
        s.attributes().forEach((k, v) -> keys.add(k.getKey()));
        assertTrue(keys.contains("gen_ai.response.time_to_first_chunk"), keys.toString());
      }
      Collection<MetricData> metrics = reader.collectAllMetrics();
      Set<String> names = metrics.stream().map(MetricData::getName).collect(Collectors.toSet());
      Set<String> expected =
          StreamMetrics.histogramNames(StreamMetrics.Kind.MODEL_OUTPUT).stream()
              .map(StreamMetrics.Histogram::name)
              .collect(Collectors.toSet());
      assertEquals(expected, names);
      assertTrue(names.contains("gen_ai.client.operation.time_to_first_chunk"));
      MetricData perChunk =
          metrics.stream().filter(d -> d.getName().equals("gen_ai.client.operation.time_per_output_chunk")).findFirst().orElseThrow();
      var point = perChunk.getHistogramData().getPoints().iterator().next();
      assertEquals(2, point.getCount());
      assertEquals("chat", point.getAttributes().get(AttributeKey.stringKey("gen_ai.operation.name")));
      // The GenAI conventions' boundaries: 10 ms doubling to 81.92 s.
      assertEquals(14, point.getBoundaries().size());
      assertEquals(0.01, point.getBoundaries().get(0), 0);
      assertEquals(81.92, point.getBoundaries().get(13), 0);
      MetricData bytes =
          metrics.stream().filter(d -> d.getName().equals("tracewire.stream.bytes")).findFirst().orElseThrow();
      assertEquals(
          StreamMetrics.histogramNames(StreamMetrics.Kind.MODEL_OUTPUT).get(4).boundaries(),
          bytes.getHistogramData().getPoints().iterator().next().getBoundaries());
    }
  }
}
