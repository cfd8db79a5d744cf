package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * A received context passes through opentelemetry-java's spans whole: {@code pass_on.json}
 * through the native call the propagator makes, and the propagator with the SDK making the span.
 */
class PassOnTest {
  private static final TracewirePropagator OURS = TracewirePropagator.getInstance();
  private static final Tracer TRACER = SdkTracerProvider.builder().build().get("pass-on");

  private static SpanContext span(String traceparent) {
    String[] f = traceparent.split("-");
    return SpanContext.create(
        f[1], f[2], TraceFlags.fromByte((byte) Integer.parseInt(f[3], 16)), TraceState.getDefault());
  }

  /** A vector's tracestate header as key, value... (vectors hold no spaces or empty members). */
  private static String[] entries(String header) {
    if (header.isEmpty()) {
      return new String[0];
    }
    return Stream.of(header.split(",")).flatMap(m -> Stream.of(m.split("=", 2))).toArray(String[]::new);
  }

  @TestFactory
  Stream<DynamicTest> vectors() {
    List<JsonNode> cases = Vectors.cases("pass_on");
    assertFalse(cases.isEmpty(), "pass_on: no cases");
    return cases.stream()
        .map(
            c ->
                DynamicTest.dynamicTest(
                    "pass_on: " + c.get("name").asText(),
                    () -> {
                      JsonNode received = c.get("received");
                      JsonNode sending = c.get("sending");
                      HeldContext.Sent sent =
                          HeldContext.passOn(
                              span(received.get("traceparent").asText()),
                              entries(received.get("tracestate").asText()),
                              entries(c.get("accepted").asText()),
                              span(sending.get("traceparent").asText()),
                              entries(sending.get("tracestate").asText()));
                      assertNotNull(sent);
                      assertEquals(c.get("expect").get("traceparent").asText(), sent.traceparent());
                      assertEquals(c.get("expect").get("tracestate").asText(), sent.tracestate());
                    }));
  }

  private static Map<String, String> inject(Context context) {
    Map<String, String> out = new HashMap<>();
    OURS.inject(context, out, Map::put);
    return out;
  }

  /**
   * Level 2 keys opentelemetry-java's TraceState drops, and the random flag its SDK drops from a
   * new span, are sent on through a span the SDK starts; an update by the application puts its
   * members first; another trace inherits nothing.
   */
  @Test
  void receivedContextSurvivesTheSdkSpan() {
    String state = "foo@@bar=1,congo=2,t61@rcwkgmzeverylongsystem=x,1digit=y";
    for (int round = 0; round < 2; round++) { // the second extract takes the memoized path
      Map<String, String> headers = new HashMap<>();
      headers.put("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03");
      headers.put("tracestate", state);
      Context parent = OURS.extract(Context.root(), headers, InteropTest.GETTER);
      Span child = TRACER.spanBuilder("child").setParent(parent).startSpan();
      assertEquals(TraceFlags.getSampled(), child.getSpanContext().getTraceFlags(), "the SDK's flags");
      Context cx = parent.with(child);
      Map<String, String> out = inject(cx);
      assertEquals(state, out.get("tracestate"));
      String tp = out.get("traceparent");
      assertEquals("00-0af7651916cd43dd8448eb211c80319c-" + child.getSpanContext().getSpanId() + "-03", tp);
      assertNotEquals("b7ad6b7169203331", child.getSpanContext().getSpanId());

      SpanContext sc = child.getSpanContext();
      TraceState updated = sc.getTraceState().toBuilder().put("mine", "7").build();
      Context mine =
          cx.with(Span.wrap(SpanContext.create(sc.getTraceId(), sc.getSpanId(), sc.getTraceFlags(), updated)));
      assertEquals(
          "mine=7,congo=2,foo@@bar=1,t61@rcwkgmzeverylongsystem=x,1digit=y", inject(mine).get("tracestate"));

      Context other =
          mine.with(
              Span.wrap(
                  SpanContext.create(
                      "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(),
                      TraceState.getDefault())));
      Map<String, String> otherOut = inject(other);
      assertNull(otherOut.get("tracestate"));
      assertEquals("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", otherOut.get("traceparent"));
      child.end();
    }
  }

  /**
   * The other ways a context leaves the process (the JSON envelope of a WebSocket message, {@code
   * TraceContext.fromContext}) pass it on the same way.
   */
  @Test
  void envelopeAndTraceContextPassItOn() {
    String state = "foo@@bar=1,congo=2";
    Map<String, String> headers = new HashMap<>();
    headers.put("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02");
    headers.put("tracestate", state);
    Context parent = OURS.extract(Context.root(), headers, InteropTest.GETTER);
    Span child = TRACER.spanBuilder("child").setParent(parent).startSpan();
    Context cx = parent.with(child);
    String want = "00-0af7651916cd43dd8448eb211c80319c-" + child.getSpanContext().getSpanId() + "-02";

    String frame = JsonEnvelope.atDefaultPath().inject("{\"text\":\"hi\"}", cx);
    Map<String, String> received = Headers.injectToMap(JsonEnvelope.atDefaultPath().extract(frame).context());
    assertEquals(want, received.get("traceparent"));
    assertEquals(state, received.get("tracestate"));

    Map<String, String> converted = Headers.injectToMap(TraceContext.fromContext(cx));
    assertEquals(want, converted.get("traceparent"));
    assertEquals(state, converted.get("tracestate"));
    child.end();
  }

  /** The random flag alone (no trace state) comes back through an unsampled SDK span too. */
  @Test
  void randomFlagSurvivesAnUnsampledSdkSpan() {
    Map<String, String> headers = Map.of("traceparent", "00-12345678901234567890123456789012-1234567890123456-02");
    Context parent = OURS.extract(Context.root(), headers, InteropTest.GETTER);
    Span child = TRACER.spanBuilder("child").setParent(parent).startSpan();
    assertEquals(TraceFlags.getDefault(), child.getSpanContext().getTraceFlags(), "the SDK's flags");
    assertEquals(
        "00-12345678901234567890123456789012-" + child.getSpanContext().getSpanId() + "-02",
        inject(parent.with(child)).get("traceparent"));
    child.end();
  }
}
