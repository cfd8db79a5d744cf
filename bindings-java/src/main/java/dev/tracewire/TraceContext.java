package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.BaggageBuilder;
import io.opentelemetry.api.baggage.BaggageEntryMetadata;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.TraceStateBuilder;
import io.opentelemetry.context.Context;
import java.util.List;
import java.util.Objects;

/**
 * Everything propagated across one hop: the span context ({@code traceparent}, {@code
 * tracestate}), the baggage, and whether it came from another process. The Java form of the
 * core's {@code TraceContext}; immutable.
 *
 * <p>Unlike opentelemetry-java's {@link Baggage}, which sorts its keys, the baggage here keeps
 * the members in wire order, as the core does.
 *
 * <pre>{@code
 * TraceContext ctx = TraceContext.current();          // from Context.current()
 * byte[] carrier = ctx.toCarrier();                   // into a queue item
 * Context restored = TraceContext.fromCarrier(carrier).storeIn(Context.root());
 * }</pre>
 */
public final class TraceContext {
  private static final TraceContext EMPTY =
      new TraceContext(null, null, (byte) 0, List.of(), List.of(), false);

  private final String traceId;
  private final String spanId;
  private final byte flags;
  private final List<TraceStateEntry> traceState;
  private final List<BaggageMember> baggage;
  private final boolean remote;

  private TraceContext(
      String traceId,
      String spanId,
      byte flags,
      List<TraceStateEntry> traceState,
      List<BaggageMember> baggage,
      boolean remote) {
    this.traceId = traceId;
    this.spanId = spanId;
    this.flags = flags;
    this.traceState = traceId == null ? List.of() : List.copyOf(traceState);
    this.baggage = List.copyOf(baggage);
    this.remote = remote;
  }

  /** A context with nothing to propagate. */
  public static TraceContext empty() {
    return EMPTY;
  }

  /**
   * A context from its parts, as the core would hold them (ids are validated when the context
   * is used: an invalid or all-zero id is no span context).
   *
   * @param traceId 32 lowercase hex characters, or null for no span context
   * @param spanId 16 lowercase hex characters, or null
   * @param flags the trace flags (every bit is kept)
   * @param traceState the tracestate entries, in order
   * @param baggage the baggage members, in order
   * @param remote whether the context was received from another process
   */
  public static TraceContext of(
      String traceId,
      String spanId,
      byte flags,
      List<TraceStateEntry> traceState,
      List<BaggageMember> baggage,
      boolean remote) {
    if ((traceId == null) != (spanId == null)) {
      throw new TracewireException.InvalidArgument("trace id and span id are both set or both null");
    }
    return new TraceContext(traceId, spanId, flags, traceState, baggage, remote);
  }

  /** A context read from the native byte format ({@link ContextRecords}); shares the empty one. */
  static TraceContext fromWire(
      String traceId,
      String spanId,
      byte flags,
      List<TraceStateEntry> traceState,
      List<BaggageMember> baggage,
      boolean remote) {
    if (traceId == null && baggage.isEmpty() && !remote) {
      return EMPTY;
    }
    return new TraceContext(traceId, spanId, flags, traceState, baggage, remote);
  }

  /** The context of {@link Context#current()}. */
  public static TraceContext current() {
    return fromContext(Context.current());
  }

  /** The span context and baggage of an OpenTelemetry {@link Context}. */
  public static TraceContext fromContext(Context context) {
    SpanContext sc = Span.fromContext(context).getSpanContext();
    Baggage b = Baggage.fromContext(context);
    if (!sc.isValid() && b.isEmpty()) {
      return EMPTY;
    }
    // A received context the SDK could not carry whole goes on as the core says.
    HeldContext held = sc.isValid() ? context.get(HeldContext.KEY) : null;
    HeldContext.Sent sent = held == null ? null : held.passOn(sc);
    List<TraceStateEntry> ts = new java.util.ArrayList<>(sc.getTraceState().size());
    if (sent != null) {
      for (int i = 0; i < sent.entries().length; i += 2) {
        ts.add(new TraceStateEntry(sent.entries()[i], sent.entries()[i + 1]));
      }
    } else {
      sc.getTraceState().forEach((k, v) -> ts.add(new TraceStateEntry(k, v)));
    }
    List<BaggageMember> members = new java.util.ArrayList<>(b.size());
    // Properties are kept by opentelemetry-java as header-form metadata; the core parses them.
    b.forEach(
        (k, e) -> members.add(BaggageMetadata.member(k, e.getValue(), e.getMetadata().getValue())));
    return new TraceContext(
        sc.isValid() ? sc.getTraceId() : null,
        sc.isValid() ? sc.getSpanId() : null,
        sent != null ? sent.flags() : sc.getTraceFlags().asByte(),
        ts,
        members,
        sc.isRemote());
  }

  /** Whether there is a span context ({@code traceparent}). */
  public boolean hasSpanContext() {
    return traceId != null;
  }

  /** Whether there is nothing to propagate: no span context and no baggage. */
  public boolean isEmpty() {
    return traceId == null && baggage.isEmpty();
  }

  /** The trace id, 32 lowercase hex characters, or null. */
  public String traceId() {
    return traceId;
  }

  /** The span id of the sending span, 16 lowercase hex characters, or null. */
  public String spanId() {
    return spanId;
  }

  /** The trace flags (0 without a span context). */
  public byte traceFlags() {
    return flags;
  }

  /** Whether the sampled flag is set. */
  public boolean isSampled() {
    return (flags & 1) != 0;
  }

  /** The tracestate entries, in order (empty without a span context). */
  public List<TraceStateEntry> traceState() {
    return traceState;
  }

  /** The baggage members, in order. */
  public List<BaggageMember> baggage() {
    return baggage;
  }

  /** Whether the context came from another process (extracted, decoded or restored). */
  public boolean isRemote() {
    return remote;
  }

  /** The {@code traceparent} header value, or null without a span context. */
  public String traceParentHeader() {
    if (traceId == null) {
      return null;
    }
    return Headers.injectToMap(this).get(Headers.TRACEPARENT);
  }

  /** This context as an OpenTelemetry {@link SpanContext} ({@link SpanContext#getInvalid()} if none). */
  public SpanContext toSpanContext() {
    if (traceId == null) {
      return SpanContext.getInvalid();
    }
    TraceState ts = TraceState.getDefault();
    if (!traceState.isEmpty()) {
      TraceStateBuilder b = TraceState.builder();
      // The builder puts each new key in front: add from the back to keep the order.
      for (int i = traceState.size() - 1; i >= 0; i--) {
        b.put(traceState.get(i).key(), traceState.get(i).value());
      }
      ts = b.build();
    }
    TraceFlags tf = TraceFlags.fromByte(flags);
    return remote
        ? SpanContext.createFromRemoteParent(traceId, spanId, tf, ts)
        : SpanContext.create(traceId, spanId, tf, ts);
  }

  /** The baggage as OpenTelemetry {@link Baggage} (properties become header-form metadata). */
  public Baggage toBaggage() {
    if (baggage.isEmpty()) {
      return Baggage.empty();
    }
    BaggageBuilder b = Baggage.builder();
    for (BaggageMember m : baggage) {
      b.put(m.key(), m.value(), BaggageEntryMetadata.create(BaggageMetadata.of(m)));
    }
    return b.build();
  }

  /**
   * {@code parent} with this context's span context (as a non-recording parent span) and, when
   * not empty, its baggage. What a propagator's {@code extract} returns.
   */
  public Context storeIn(Context parent) {
    Context c = parent;
    if (traceId != null) {
      SpanContext sc = toSpanContext();
      if (sc.isValid()) {
        c = c.with(Span.wrap(sc));
      }
    }
    if (!baggage.isEmpty()) {
      c = c.with(toBaggage());
    }
    return c;
  }

  /**
   * Serialises the context for a queue item, a job record or any store: a binary envelope with
   * no payload (docs/PROTOCOL.md section 6), about 30 bytes plus tracestate and baggage.
   */
  public byte[] toCarrier() {
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, this);
      s.call(Native::toCarrier);
      return s.readRemaining();
    }
  }

  /**
   * Restores a context from {@link #toCarrier()}'s bytes; the result is remote.
   *
   * @throws TracewireException {@code invalid_envelope} (or another envelope code) when the
   *     bytes are not a carrier
   */
  public static TraceContext fromCarrier(byte[] carrier) {
    Objects.requireNonNull(carrier, "carrier");
    try (Scratch s = Scratch.get()) {
      s.bytesRaw(carrier, 0, carrier.length);
      s.call(Native::fromCarrier);
      return ContextRecords.read(s);
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TraceContext t
        && Objects.equals(traceId, t.traceId)
        && Objects.equals(spanId, t.spanId)
        && flags == t.flags
        && traceState.equals(t.traceState)
        && baggage.equals(t.baggage)
        && remote == t.remote;
  }

  @Override
  public int hashCode() {
    return Objects.hash(traceId, spanId, flags, traceState, baggage, remote);
  }

  @Override
  public String toString() {
    return "TraceContext{traceId="
        + traceId
        + ", spanId="
        + spanId
        + ", flags="
        + (flags & 0xff)
        + ", traceState="
        + traceState
        + ", baggage="
        + baggage
        + ", remote="
        + remote
        + "}";
  }
}
