package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The propagator remembers its last header forms per thread; a changed value, even one that
 * differs from the last only in its trace state or baggage, must never get the old answer.
 */
class PropagatorMemoTest {
  private static final TracewirePropagator OURS = TracewirePropagator.getInstance();
  private static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
  private static final String SPAN_ID = "00f067aa0ba902b7";

  private static Map<String, String> inject(Context context) {
    Map<String, String> out = new HashMap<>();
    OURS.inject(context, out, Map::put);
    return out;
  }

  private static Context extract(Map<String, String> headers) {
    return OURS.extract(Context.root(), headers, InteropTest.GETTER);
  }

  private static Context withSpan(String spanId, TraceState ts) {
    return Context.root()
        .with(Span.wrap(SpanContext.create(TRACE_ID, spanId, TraceFlags.getSampled(), ts)));
  }

  @Test
  void injectSeesEveryChangeOfTraceStateAndBaggage() {
    TraceState a = TraceState.builder().put("a", "1").build();
    TraceState b = TraceState.builder().put("b", "2").build();
    assertEquals("a=1", inject(withSpan(SPAN_ID, a)).get("tracestate"));
    assertEquals("a=1", inject(withSpan("00f067aa0ba902b8", a)).get("tracestate"));
    // Same ids, another trace state: a new header.
    assertEquals("b=2", inject(withSpan(SPAN_ID, b)).get("tracestate"));
    // An equal but distinct trace state instance gives the same header.
    assertEquals("b=2", inject(withSpan(SPAN_ID, TraceState.builder().put("b", "2").build())).get("tracestate"));
    assertNull(inject(withSpan(SPAN_ID, TraceState.getDefault())).get("tracestate"));

    Context base = withSpan(SPAN_ID, a);
    Context one = base.with(Baggage.builder().put("k", "v1").build());
    Context two = base.with(Baggage.builder().put("k", "v2").build());
    assertEquals("k=v1", inject(one).get("baggage"));
    assertEquals("k=v2", inject(two).get("baggage"));
    assertEquals("k=v1", inject(one).get("baggage"));
    assertNull(inject(base).get("baggage"));
    Map<String, String> all = inject(two);
    assertEquals("00-" + TRACE_ID + "-" + SPAN_ID + "-01", all.get("traceparent"));
    assertEquals("a=1", all.get("tracestate"));
  }

  @Test
  void injectFollowsTheSpanContextNotJustItsIds() {
    Context sampled = withSpan(SPAN_ID, TraceState.getDefault());
    Context unsampled =
        Context.root()
            .with(Span.wrap(SpanContext.create(TRACE_ID, SPAN_ID, TraceFlags.getDefault(), TraceState.getDefault())));
    assertEquals("00-" + TRACE_ID + "-" + SPAN_ID + "-01", inject(sampled).get("traceparent"));
    assertEquals("00-" + TRACE_ID + "-" + SPAN_ID + "-00", inject(unsampled).get("traceparent"));
    assertEquals("00-" + TRACE_ID + "-" + SPAN_ID + "-01", inject(sampled).get("traceparent"));
  }

  @Test
  void extractSeesEveryChangeOfTraceState() {
    String tp = "00-" + TRACE_ID + "-" + SPAN_ID + "-01";
    for (int round = 0; round < 3; round++) {
      for (String state : new String[] {"rojo=1,congo=2", "congo=3", "rojo=1,congo=2"}) {
        SpanContext sc = Span.fromContext(extract(Map.of("traceparent", tp, "tracestate", state))).getSpanContext();
        assertEquals(SPAN_ID, sc.getSpanId());
        assertEquals(state.contains("rojo") ? "1" : null, sc.getTraceState().get("rojo"));
        assertEquals(state.contains("rojo") ? "2" : "3", sc.getTraceState().get("congo"));
      }
    }
    // The remembered trace state never outlives an invalid traceparent or its own absence.
    assertFalse(Span.fromContext(extract(Map.of("traceparent", "00-xyz", "tracestate", "congo=3")))
        .getSpanContext().isValid());
    assertEquals(
        0, Span.fromContext(extract(Map.of("traceparent", tp))).getSpanContext().getTraceState().size());
    // Another traceparent with the remembered trace state keeps its own ids and flags.
    SpanContext other =
        Span.fromContext(extract(Map.of("traceparent", "00-" + TRACE_ID + "-00f067aa0ba902b9-00", "tracestate", "congo=3")))
            .getSpanContext();
    assertEquals("00f067aa0ba902b9", other.getSpanId());
    assertFalse(other.isSampled());
    assertEquals("3", other.getTraceState().get("congo"));
  }
}
