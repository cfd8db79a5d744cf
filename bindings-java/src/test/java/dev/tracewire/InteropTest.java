package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.BaggageBuilder;
import io.opentelemetry.api.baggage.BaggageEntry;
import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.TraceStateBuilder;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Round trips with opentelemetry-java's own W3C propagators on many random contexts. */
class InteropTest {
  private static final TextMapPropagator OTEL =
      TextMapPropagator.composite(
          W3CTraceContextPropagator.getInstance(), W3CBaggagePropagator.getInstance());
  private static final TextMapPropagator OURS = TracewirePropagator.getInstance();
  private static final int CASES = 3000;

  static final TextMapGetter<Map<String, String>> GETTER =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
          return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
          return carrier == null ? null : carrier.get(key);
        }
      };

  private static final String HEX = "0123456789abcdef";
  private static final String KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
  private static final String TOKEN_CHARS =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'*+-.^_`|~";

  private static String hex(Random r, int n) {
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      sb.append(HEX.charAt(r.nextInt(16)));
    }
    return sb.toString();
  }

  private static String pick(Random r, String chars, int min, int max) {
    int n = min + r.nextInt(max - min + 1);
    StringBuilder sb = new StringBuilder(n);
    for (int i = 0; i < n; i++) {
      sb.append(chars.charAt(r.nextInt(chars.length())));
    }
    return sb.toString();
  }

  /**
   * A value: printable ASCII, spaces and a little Unicode; never empty, because
   * opentelemetry-java's W3CBaggagePropagator drops members with an empty value on extract.
   */
  private static String value(Random r) {
    int n = 1 + r.nextInt(12);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      int k = r.nextInt(10);
      if (k == 0) {
        sb.append("é€✓".charAt(r.nextInt(3)));
      } else {
        sb.append((char) (0x20 + r.nextInt(0x5f)));
      }
    }
    return sb.toString();
  }

  private static Context randomContext(Random r) {
    Context c = Context.root();
    if (r.nextInt(10) > 0) {
      String traceId;
      String spanId;
      do {
        traceId = hex(r, 32);
      } while (traceId.equals("0".repeat(32)));
      do {
        spanId = hex(r, 16);
      } while (spanId.equals("0".repeat(16)));
      TraceStateBuilder ts = TraceState.builder();
      int n = r.nextInt(4) == 0 ? r.nextInt(6) : 0;
      for (int i = 0; i < n; i++) {
        String key = pick(r, "abcdefghijklmnopqrstuvwxyz", 1, 1) + pick(r, KEY_CHARS, 0, 8);
        ts.put(key, pick(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789!#$%&'()*+-./:;<>?@[]^_`{|}~", 1, 16));
      }
      TraceFlags flags = r.nextBoolean() ? TraceFlags.getSampled() : TraceFlags.getDefault();
      c = c.with(Span.wrap(SpanContext.create(traceId, spanId, flags, ts.build())));
    }
    int members = r.nextInt(3) == 0 ? r.nextInt(5) : 0;
    if (members > 0) {
      BaggageBuilder b = Baggage.builder();
      for (int i = 0; i < members; i++) {
        b.put(pick(r, TOKEN_CHARS, 1, 10), value(r));
      }
      c = c.with(b.build());
    }
    return c;
  }

  private static void assertSameContext(Context want, Context got, String what) {
    SpanContext a = Span.fromContext(want).getSpanContext();
    SpanContext b = Span.fromContext(got).getSpanContext();
    assertEquals(a.isValid(), b.isValid(), what);
    if (a.isValid()) {
      assertEquals(a.getTraceId(), b.getTraceId(), what);
      assertEquals(a.getSpanId(), b.getSpanId(), what);
      assertEquals(a.getTraceFlags(), b.getTraceFlags(), what);
      assertEquals(a.getTraceState().asMap(), b.getTraceState().asMap(), what);
      assertEquals(entries(a.getTraceState()), entries(b.getTraceState()), what + " tracestate order");
      assertTrue(b.isRemote(), what);
    }
    assertEquals(baggage(Baggage.fromContext(want)), baggage(Baggage.fromContext(got)), what);
  }

  private static List<String> entries(TraceState ts) {
    List<String> out = new java.util.ArrayList<>();
    ts.forEach((k, v) -> out.add(k + "=" + v));
    return out;
  }

  private static Map<String, String> baggage(Baggage b) {
    Map<String, String> m = new HashMap<>();
    b.forEach((k, e) -> m.put(k, e.getValue()));
    return m;
  }

  @Test
  void otelInjectOursExtract() {
    Random r = new Random(1);
    for (int i = 0; i < CASES; i++) {
      Context c = randomContext(r);
      Map<String, String> headers = new LinkedHashMap<>();
      OTEL.inject(c, headers, Map::put);
      Context got = OURS.extract(Context.root(), headers, GETTER);
      assertSameContext(c, got, "case " + i + ": " + headers);
    }
  }

  @Test
  void oursInjectOtelExtract() {
    Random r = new Random(2);
    for (int i = 0; i < CASES; i++) {
      Context c = randomContext(r);
      Map<String, String> headers = new LinkedHashMap<>();
      OURS.inject(c, headers, Map::put);
      Context got = OTEL.extract(Context.root(), headers, GETTER);
      assertSameContext(c, got, "case " + i + ": " + headers);
      // traceparent and tracestate are byte-identical to opentelemetry-java's.
      Map<String, String> theirs = new LinkedHashMap<>();
      OTEL.inject(c, theirs, Map::put);
      assertEquals(theirs.get("traceparent"), headers.get("traceparent"), "case " + i);
      assertEquals(theirs.get("tracestate"), headers.get("tracestate"), "case " + i);
    }
  }

  @Test
  void throughTheJavaValueAndTheCarrier() {
    Random r = new Random(3);
    for (int i = 0; i < 500; i++) {
      Context c = randomContext(r);
      TraceContext tc = TraceContext.fromContext(c);
      Context back = TraceContext.fromCarrier(tc.toCarrier()).storeIn(Context.root());
      assertSameContext(c, back, "case " + i);
    }
  }

  @Test
  void baggageMetadataSurvivesBothWays() {
    Baggage b =
        Baggage.builder()
            .put("k", "v 1", io.opentelemetry.api.baggage.BaggageEntryMetadata.create("p=1;flag"))
            .build();
    Context c = Context.root().with(b);
    Map<String, String> headers = new HashMap<>();
    OURS.inject(c, headers, Map::put);
    assertEquals("k=v%201;p=1;flag", headers.get("baggage"));
    BaggageEntry e = Baggage.fromContext(OURS.extract(Context.root(), headers, GETTER)).getEntry("k");
    assertEquals("v 1", e.getValue());
    assertEquals("p=1;flag", e.getMetadata().getValue());
    TraceContext tc = TraceContext.fromContext(c);
    assertEquals(List.of(new BaggageMember.Property("p", "1"), new BaggageMember.Property("flag", null)),
        tc.baggage().get(0).properties());
  }

  @Test
  void multipleHeaderLinesAreCombined() {
    Map<String, List<String>> carrier =
        Map.of(
            "traceparent", List.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "tracestate", List.of("a=1", "b=2"),
            "baggage", List.of("x=1", "y=2"));
    TextMapGetter<Map<String, List<String>>> getter =
        new TextMapGetter<>() {
          @Override
          public Iterable<String> keys(Map<String, List<String>> c) {
            return c.keySet();
          }

          @Override
          public String get(Map<String, List<String>> c, String key) {
            List<String> v = c.get(key);
            return v == null ? null : v.get(0);
          }

          @Override
          public Iterator<String> getAll(Map<String, List<String>> c, String key) {
            List<String> v = c.get(key);
            return v == null ? java.util.Collections.emptyIterator() : v.iterator();
          }
        };
    Context got = OURS.extract(Context.root(), carrier, getter);
    assertEquals(List.of("a=1", "b=2"), entries(Span.fromContext(got).getSpanContext().getTraceState()));
    assertEquals(Map.of("x", "1", "y", "2"), baggage(Baggage.fromContext(got)));
    // Two traceparent lines are invalid (W3C): no span context.
    Map<String, List<String>> two =
        Map.of("traceparent",
            List.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assertFalse(Span.fromContext(OURS.extract(Context.root(), two, getter)).getSpanContext().isValid());
  }

  @Test
  void invalidInputLeavesTheContextAlone() {
    Context parent = Context.root().with(Baggage.builder().put("keep", "me").build());
    Map<String, String> bad = Map.of("traceparent", "00-xyz", "baggage", "=novalue");
    Context got = OURS.extract(parent, bad, GETTER);
    assertFalse(Span.fromContext(got).getSpanContext().isValid());
    assertEquals("me", Baggage.fromContext(got).getEntryValue("keep"));
    assertEquals(parent, OURS.extract(parent, Map.of(), GETTER));
    assertEquals(parent, OURS.extract(parent, null, GETTER));
  }

  @Test
  void worksAsTheGlobalPropagator() {
    OpenTelemetrySdk sdk =
        OpenTelemetrySdk.builder()
            .setPropagators(ContextPropagators.create(TracewirePropagator.getInstance()))
            .build();
    GlobalOpenTelemetry.resetForTest();
    GlobalOpenTelemetry.set(sdk);
    try {
      TextMapPropagator p = GlobalOpenTelemetry.getPropagators().getTextMapPropagator();
      assertEquals(List.of("traceparent", "tracestate", "baggage"), List.copyOf(p.fields()));
      Context c =
          Context.root().with(Span.wrap(SpanContext.create(
              "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(), TraceState.getDefault())));
      Map<String, String> h = new HashMap<>();
      p.inject(c, h, Map::put);
      assertEquals("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", h.get("traceparent"));
    } finally {
      GlobalOpenTelemetry.resetForTest();
      sdk.close();
    }
  }
}
