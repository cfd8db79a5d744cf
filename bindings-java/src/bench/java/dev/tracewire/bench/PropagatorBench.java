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

  TextMapPropagator propagator;
  Map<String, String> carrier;
  Context context;
  Map<String, String> out;

  @Setup
  public void setup() {
    propagator =
        impl.equals("tracewire")
            ? TracewirePropagator.getInstance()
            : W3CTraceContextPropagator.getInstance();
    carrier = new HashMap<>();
    carrier.put("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    TraceState ts = TraceState.getDefault();
    if (variant.equals("tracestate")) {
      carrier.put("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
      ts = TraceState.builder().put("congo", "t61rcWkgMzE").put("rojo", "00f067aa0ba902b7").build();
    }
    context =
        Context.root()
            .with(Span.wrap(SpanContext.create(
                "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(), ts)));
    out = new HashMap<>();
  }

  @Benchmark
  public Context extract() {
    return propagator.extract(Context.root(), carrier, GETTER);
  }

  @Benchmark
  public Map<String, String> inject() {
    out.clear();
    propagator.inject(context, out, Map::put);
    return out;
  }
}
