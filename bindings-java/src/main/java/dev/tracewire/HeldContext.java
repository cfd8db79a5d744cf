package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.ContextKey;
import java.util.Arrays;

/**
 * A received span context that opentelemetry-java cannot carry whole: its {@code
 * TraceStateBuilder} drops {@code tracestate} keys W3C Level 2 allows (starting with a digit,
 * {@code @} twice, a system part over 14 characters, 256 characters), and the SDK starts child
 * spans with the sampled flag alone, dropping the Level 2 random flag (0x02). W3C requires both
 * to be passed on while the trace id is. Kept in the OpenTelemetry {@link Context} beside the
 * span context, so every context derived from it (child spans included) has it; the propagator
 * asks the core ({@code Received::pass_on}) what to send.
 */
final class HeldContext {
  static final ContextKey<HeldContext> KEY = ContextKey.named("tracewire-received-context");
  /** The random trace-id flag of W3C Level 2. */
  private static final int RANDOM_FLAG = 0x02;

  private final SpanContext received;
  /** The whole received trace state: key, value, key, value... */
  private final String[] entries;

  private HeldContext(SpanContext received, String[] entries) {
    this.received = received;
    this.entries = entries;
  }

  /**
   * {@code context} holding {@code sc}, a span context made from a received one, when the SDK
   * cannot carry all of it: {@code entries} (the whole received trace state as key, value...;
   * null when {@code sc}'s trace state holds all of it) or the random flag.
   */
  static Context hold(Context context, SpanContext sc, String[] entries) {
    boolean whole = entries == null || entries.length == 2 * sc.getTraceState().size();
    if (whole && (sc.getTraceFlags().asByte() & RANDOM_FLAG) == 0) {
      return context;
    }
    return context.with(KEY, new HeldContext(sc, entries));
  }

  /** Equal when holding the same received span context and trace state. */
  @Override
  public boolean equals(Object o) {
    return o == this
        || (o instanceof HeldContext h
            && received.equals(h.received)
            && Arrays.equals(entries, h.entries));
  }

  @Override
  public int hashCode() {
    return received.hashCode() * 31 + Arrays.hashCode(entries);
  }

  /** The whole received trace state (key, value...), or null when the SDK's holds all of it. */
  String[] entries() {
    return entries;
  }

  /**
   * What to send instead of a span context: its {@code traceparent}, its flags, and the trace
   * state's entries (key, value...) and header ("" for none).
   */
  record Sent(String traceparent, byte flags, String[] entries, String tracestate) {}

  /**
   * What to send for {@code sc}, a span context the SDK made; null when it is of another trace
   * (or the core refuses a value: the SDK's then go out as they are).
   */
  Sent passOn(SpanContext sc) {
    if (!sc.getTraceId().equals(received.getTraceId())) {
      return null;
    }
    String[] accepted = entries(received.getTraceState());
    return passOn(received, entries == null ? accepted : entries, accepted, sc, entries(sc.getTraceState()));
  }

  /**
   * The core's {@code Received::pass_on}: what to send for {@code sending}, whose SDK trace state
   * has {@code sdk}, given the {@code received} span context, its {@code whole} trace state and the
   * entries of it the SDK {@code accepted} (each as key, value...). Null when the core refuses a
   * value.
   */
  static Sent passOn(
      SpanContext received, String[] whole, String[] accepted, SpanContext sending, String[] sdk) {
    byte flags;
    String[] kv;
    String header;
    try (Scratch s = Scratch.get()) {
      span(s, received);
      writeEntries(s, whole);
      writeEntries(s, accepted);
      span(s, sending);
      writeEntries(s, sdk);
      s.call((in, len, out, cap) -> Native.w3c(Native.W3C_PASS_ON, in, len, out, cap));
      flags = (byte) s.readU8();
      kv = new String[2 * s.readU32()];
      for (int i = 0; i < kv.length; i++) {
        kv[i] = s.readStr();
      }
      header = s.readStr();
    } catch (TracewireException e) {
      return null;
    }
    SpanContext sent =
        SpanContext.create(
            sending.getTraceId(), sending.getSpanId(), TraceFlags.fromByte(flags), TraceState.getDefault());
    String traceparent;
    try (Scratch s = Scratch.get()) {
      traceparent = OtelRecords.injectTraceParent(s, sent);
    }
    return traceparent == null ? null : new Sent(traceparent, flags, kv, header);
  }

  /** {@code ts}'s entries, in order: key, value, key, value... */
  private static String[] entries(TraceState ts) {
    String[] kv = new String[2 * ts.size()];
    int[] i = {0};
    ts.forEach(
        (k, v) -> {
          kv[i[0]++] = k;
          kv[i[0]++] = v;
        });
    return kv;
  }

  private static void writeEntries(Scratch s, String[] kv) {
    s.u32(kv.length / 2);
    for (String e : kv) {
      s.str(e);
    }
  }

  private static void span(Scratch s, SpanContext sc) {
    s.ascii(sc.getTraceId(), 32);
    s.ascii(sc.getSpanId(), 16);
    s.u8(sc.getTraceFlags().asByte());
  }
}
