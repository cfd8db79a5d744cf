package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

/**
 * A {@link TextMapPropagator} for W3C {@code traceparent}, {@code tracestate} and {@code
 * baggage}, parsed and formatted by the tracewire core (the same rules in every language).
 * Replaces {@code W3CTraceContextPropagator} and {@code W3CBaggagePropagator} together:
 *
 * <pre>{@code
 * OpenTelemetrySdk.builder()
 *     .setPropagators(ContextPropagators.create(TracewirePropagator.getInstance()))
 *     ...
 * }</pre>
 *
 * <p>Multiple header lines (through {@link TextMapGetter#getAll}) are combined as W3C says.
 * Extraction never fails: an invalid {@code traceparent} leaves the context without a span
 * context, an invalid {@code tracestate} or {@code baggage} is dropped on its own.
 */
public final class TracewirePropagator implements TextMapPropagator {
  private static final TracewirePropagator INSTANCE = new TracewirePropagator();
  private static final List<String> FIELDS =
      List.of(Headers.TRACEPARENT, Headers.TRACESTATE, Headers.BAGGAGE);

  private TracewirePropagator() {}

  /** The propagator (stateless, thread-safe). */
  public static TracewirePropagator getInstance() {
    return INSTANCE;
  }

  @Override
  public Collection<String> fields() {
    return FIELDS;
  }

  @Override
  public <C> void inject(Context context, C carrier, TextMapSetter<C> setter) {
    if (context == null || setter == null) {
      return;
    }
    SpanContext sc = Span.fromContext(context).getSpanContext();
    if (sc.isValid() && sc.getTraceState().isEmpty() && Baggage.fromContext(context).isEmpty()) {
      // The common case, a span context alone: one small call.
      String tp;
      try (Scratch s = Scratch.get()) {
        tp = s.injectTraceParent(sc);
      }
      if (tp != null) {
        setter.set(carrier, Headers.TRACEPARENT, tp);
      }
      return;
    }
    String v0;
    String v1;
    String v2;
    int f0;
    int f1;
    int f2;
    int n;
    try (Scratch s = Scratch.get()) {
      s.writeContext(context);
      s.call(Native::inject);
      n = s.readU32();
      if (n == 0) {
        return;
      }
      // At most three headers; the setter runs after the buffer is released.
      f0 = s.readU8();
      v0 = s.readStr();
      f1 = n > 1 ? s.readU8() : 0;
      v1 = n > 1 ? s.readStr() : null;
      f2 = n > 2 ? s.readU8() : 0;
      v2 = n > 2 ? s.readStr() : null;
    }
    setter.set(carrier, Headers.FIELDS[f0], v0);
    if (n > 1) {
      setter.set(carrier, Headers.FIELDS[f1], v1);
    }
    if (n > 2) {
      setter.set(carrier, Headers.FIELDS[f2], v2);
    }
  }

  @Override
  public <C> Context extract(Context context, C carrier, TextMapGetter<C> getter) {
    if (context == null) {
      context = Context.root();
    }
    if (getter == null) {
      return context;
    }
    // Values are read before the buffer is taken: a getter may run arbitrary code.
    Iterator<String> tp = getter.getAll(carrier, Headers.TRACEPARENT);
    Iterator<String> bg = getter.getAll(carrier, Headers.BAGGAGE);
    boolean hasTp = tp != null && tp.hasNext();
    boolean hasBg = bg != null && bg.hasNext();
    if (!hasTp && !hasBg) {
      return context;
    }
    String tp0 = hasTp ? tp.next() : null;
    String tp1 = hasTp && tp.hasNext() ? tp.next() : null;
    String ts0 = null;
    Iterator<String> ts = null;
    if (hasTp) {
      ts = getter.getAll(carrier, Headers.TRACESTATE);
      ts0 = ts != null && ts.hasNext() ? ts.next() : null;
    }
    String bg0 = hasBg ? bg.next() : null;
    if (tp0 != null && tp1 == null && ts0 == null && bg0 == null) {
      // The common case, one traceparent alone: one small call.
      try (Scratch s = Scratch.get()) {
        Context c = s.extractTraceParent(tp0, context);
        if (c != null) {
          return c;
        }
      }
    }
    try (Scratch s = Scratch.get()) {
      if (tp0 == null) {
        s.u32(0);
      } else {
        s.u32(tp1 == null ? 1 : 2);
        s.str(tp0);
        if (tp1 != null) {
          s.str(tp1);
        }
      }
      lines(s, ts0, ts);
      lines(s, bg0, bg);
      s.call(Native::extractFields);
      return s.readIntoContext(context);
    }
  }

  /** Writes {@code first} and the rest of {@code more} as a counted list of lines. */
  private static void lines(Scratch s, String first, Iterator<String> more) {
    if (first == null) {
      s.u32(0);
      return;
    }
    int countAt = s.position();
    s.u32(0);
    int n = 1;
    s.str(first);
    while (more.hasNext()) {
      String v = more.next();
      if (v != null) {
        s.str(v);
        n++;
      }
    }
    s.patchU32(countAt, n);
  }

  @Override
  public String toString() {
    return "TracewirePropagator";
  }
}
