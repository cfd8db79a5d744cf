package dev.tracewire.websocket;

import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/** One in-memory OpenTelemetry SDK for the WebSocket tests. */
final class Otel {
  static final InMemorySpanExporter EXPORTER = InMemorySpanExporter.create();
  static final SdkTracerProvider PROVIDER =
      SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(EXPORTER)).build();
  static final Tracer TRACER = PROVIDER.get("tracewire-test");

  private Otel() {}

  /** Waits until {@code done} holds for the finished spans (or fails after 10 s). */
  static List<SpanData> await(Predicate<List<SpanData>> done) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      List<SpanData> spans = EXPORTER.getFinishedSpanItems();
      if (done.test(spans)) {
        return spans;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("spans did not arrive: " + names(spans));
      }
      Thread.sleep(10);
    }
  }

  static List<String> names(List<SpanData> spans) {
    return spans.stream().map(s -> s.getName() + "(" + s.getKind() + ")").toList();
  }
}
