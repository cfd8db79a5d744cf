package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceState;
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
 *
 * <p>A received context is passed on whole through the spans opentelemetry-java starts from it,
 * as W3C requires: {@code tracestate} members its {@code TraceState} rejects (Level 2 keys) and
 * the Level 2 random flag, which its SDK drops from new spans, are held in the {@link Context}
 * beside the span context and sent again by {@link #inject} while the trace id is the received
 * one.
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
    Baggage baggage = Baggage.fromContext(context);
    if (!sc.isValid()) {
      if (!baggage.isEmpty()) {
        String[] headers = injectAll(context);
        set(carrier, setter, Headers.BAGGAGE, headers[2]);
      }
      return;
    }
    Memo m = MEMO.get();
    HeldContext held = context.get(HeldContext.KEY);
    // What the SDK could not carry of a received context: the core says what to send instead.
    HeldContext.Sent passedOn = held == null ? null : m.passOn(held, sc);
    String traceparent = passedOn != null ? passedOn.traceparent() : m.traceparent(sc);
    if (traceparent == null) {
      return;
    }
    TraceState ts = sc.getTraceState();
    boolean withState = passedOn != null ? !passedOn.tracestate().isEmpty() : !ts.isEmpty();
    boolean withBaggage = !baggage.isEmpty();
    String stateHeader =
        passedOn != null ? passedOn.tracestate() : withState ? m.stateHeader(ts) : null;
    String baggageHeader = withBaggage ? m.baggageHeader(baggage) : null;
    if ((withState && stateHeader == null) || (withBaggage && baggageHeader == null)) {
      // The core formats every header once; the forms are kept for the next context that
      // carries equal values, as children carry their parent's trace state and baggage.
      String[] headers = injectAll(context);
      if (withState && stateHeader == null) {
        stateHeader = m.keepStateHeader(ts, headers[1]);
      }
      if (withBaggage && baggageHeader == null) {
        baggageHeader = m.keepBaggageHeader(baggage, headers[2]);
      }
    }
    setter.set(carrier, Headers.TRACEPARENT, traceparent);
    if (withState) {
      set(carrier, setter, Headers.TRACESTATE, stateHeader);
    }
    if (withBaggage) {
      set(carrier, setter, Headers.BAGGAGE, baggageHeader);
    }
  }

  private static <C> void set(C carrier, TextMapSetter<C> setter, String name, String value) {
    if (value != null) {
      setter.set(carrier, name, value);
    }
  }

  /** Every header the core writes for {@code context}, by field: traceparent, tracestate, baggage. */
  private static String[] injectAll(Context context) {
    String[] headers = new String[3];
    try (Scratch s = Scratch.get()) {
      OtelRecords.write(s, context);
      s.call(Native::inject);
      int n = s.readU32();
      for (int i = 0; i < n; i++) {
        int field = s.readU8();
        headers[field] = s.readStr();
      }
    }
    return headers;
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
    boolean oneStateLine = ts0 == null || !ts.hasNext();
    Memo m = MEMO.get();
    if (tp0 != null && tp1 == null && bg0 == null && oneStateLine
        && (ts0 == null || ts0.equals(m.stateText))) {
      // The common cases: one traceparent, alone or with the trace state seen last.
      SpanContext sc = m.parse(tp0);
      if (sc != null) {
        if (!sc.isValid()) {
          return context;
        }
        if (ts0 != null) {
          sc =
              SpanContext.createFromRemoteParent(
                  sc.getTraceId(), sc.getSpanId(), sc.getTraceFlags(), m.parsedState);
        }
        return HeldContext.hold(context.with(Span.wrap(sc)), sc, ts0 == null ? null : m.stateEntries);
      }
    }
    Context extracted = extractAll(context, tp0, tp1, ts0, ts, bg0, bg);
    if (ts0 != null && oneStateLine && ts0.length() <= Native.CACHE_MAX_KEY_BYTES) {
      SpanContext sc = Span.fromContext(extracted).getSpanContext();
      if (sc.isValid() && sc.isRemote()) {
        // The trace state depends on its header text alone: keep it for the next extract.
        m.stateText = ts0;
        m.parsedState = sc.getTraceState();
        HeldContext held = extracted.get(HeldContext.KEY);
        m.stateEntries = held == null ? null : held.entries();
      }
    }
    return extracted;
  }

  private static Context extractAll(
      Context context,
      String tp0,
      String tp1,
      String ts0,
      Iterator<String> ts,
      String bg0,
      Iterator<String> bg) {
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
      return OtelRecords.readInto(s, context);
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

  private static final ThreadLocal<Memo> MEMO = ThreadLocal.withInitial(Memo::new);

  /**
   * This thread's last header forms, one entry per conversion (within {@link
   * Native#CACHE_ENTRIES}; the cache policy in docs/ARCHITECTURE.md). Keyed by content: the
   * header text (extract) or a value equal to the one converted (inject; span contexts, trace
   * states and baggage are immutable values, and equality starts with identity, so a child
   * carrying its parent's instance costs one comparison). Forms over {@link
   * Native#CACHE_MAX_KEY_BYTES} are not kept.
   */
  private static final class Memo {
    SpanContext injectedContext;
    String traceparentHeader;
    TraceState injectedState;
    String stateHeader;
    Baggage injectedBaggage;
    String baggageHeader;
    String traceparentText;
    SpanContext parsedContext;
    String stateText;
    TraceState parsedState;
    /** The whole trace state of {@code stateText} when {@code parsedState} lacks members. */
    String[] stateEntries;
    HeldContext passedHeld;
    SpanContext passedContext;
    HeldContext.Sent passed;

    /** The core's traceparent for {@code sc} (null when it writes none). */
    String traceparent(SpanContext sc) {
      if (!sc.equals(injectedContext)) {
        try (Scratch s = Scratch.get()) {
          traceparentHeader = OtelRecords.injectTraceParent(s, sc);
        }
        injectedContext = sc;
      }
      return traceparentHeader;
    }

    /** {@code held.passOn(sc)}, kept for the last span context and held context. */
    HeldContext.Sent passOn(HeldContext held, SpanContext sc) {
      if (!sc.equals(passedContext) || !held.equals(passedHeld)) {
        passed = held.passOn(sc);
        passedContext = sc;
        passedHeld = held;
      }
      return passed;
    }

    /** The kept header form of {@code ts}, or null. */
    String stateHeader(TraceState ts) {
      return ts.equals(injectedState) ? stateHeader : null;
    }

    /** Keeps {@code header} as the form of {@code ts} (when short enough); returns it. */
    String keepStateHeader(TraceState ts, String header) {
      if (header != null && header.length() <= Native.CACHE_MAX_KEY_BYTES) {
        injectedState = ts;
        stateHeader = header;
      }
      return header;
    }

    /** The kept header form of {@code baggage}, or null. */
    String baggageHeader(Baggage baggage) {
      return baggage.equals(injectedBaggage) ? baggageHeader : null;
    }

    /** Keeps {@code header} as the form of {@code baggage} (when short enough); returns it. */
    String keepBaggageHeader(Baggage baggage, String header) {
      if (header != null && header.length() <= Native.CACHE_MAX_KEY_BYTES) {
        injectedBaggage = baggage;
        baggageHeader = header;
      }
      return header;
    }

    /** The core's parse of one traceparent line; null when the general path must parse it. */
    SpanContext parse(String text) {
      if (!text.equals(traceparentText)) {
        SpanContext sc;
        try (Scratch s = Scratch.get()) {
          sc = OtelRecords.parseTraceParent(s, text);
        }
        if (sc == null) {
          return null;
        }
        traceparentText = text;
        parsedContext = sc;
      }
      return parsedContext;
    }
  }
}
