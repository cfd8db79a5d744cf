package dev.tracewire.bench;

import dev.tracewire.TracewirePropagator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.util.HashMap;
import java.util.Map;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Header inject/extract: tracewire's propagator (through JNI) vs opentelemetry-java's. */
@State(Scope.Thread)
public class PropagatorBench {
  static final TextMapGetter<Map<String, String>> GETTER =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> c) {
          return c.keySet();
        }

        @Override
        public String get(Map<String, String> c, String key) {
          return c.get(key);
        }
      };

  @Param({"none", "tracestate"})
  public String variant;

  @Param({"tracewire", "otel-w3c"})
  public String impl;

  /**
   * "one": the same context and headers every call (a per-thread memo always hits). "1024":
   * rotating through 1024 span contexts and headers with distinct span ids (sharing one trace
   * state, as the children of one parent do), so the traceparent is new on every call.
   */
  @Param({"one", "1024"})
  public String contexts;

  TextMapPropagator propagator;
  Map<String, String>[] carriers;
  Context[] contextsIn;
  Map<String, String> out;
  int next;

  @Setup
  @SuppressWarnings("unchecked")
  public void setup() {
    propagator =
        impl.equals("tracewire")
            ? TracewirePropagator.getInstance()
            : W3CTraceContextPropagator.getInstance();
    int n = contexts.equals("one") ? 1 : 1024;
    carriers = new Map[n];
    contextsIn = new Context[n];
    TraceState ts = TraceState.getDefault();
    if (variant.equals("tracestate")) {
      ts = TraceState.builder().put("congo", "t61rcWkgMzE").put("rojo", "00f067aa0ba902b7").build();
    }
    for (int i = 0; i < n; i++) {
      String spanId = String.format("%016x", 0x00f067aa0ba90000L + i + 1);
      carriers[i] = new HashMap<>();
      carriers[i].put("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-" + spanId + "-01");
      if (variant.equals("tracestate")) {
        carriers[i].put("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
      }
      contextsIn[i] =
          Context.root()
              .with(Span.wrap(SpanContext.create(
                  "4bf92f3577b34da6a3ce929d0e0e4736", spanId, TraceFlags.getSampled(), ts)));
    }
    out = new HashMap<>();
  }

  private int index() {
    int i = next;
    next = (i + 1) & (carriers.length - 1);
    return i;
  }

  @Benchmark
  public Context extract() {
    return propagator.extract(Context.root(), carriers[index()], GETTER);
  }

  @Benchmark
  public Map<String, String> inject() {
    out.clear();
    propagator.inject(contextsIn[index()], out, Map::put);
    return out;
  }
}
