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

/**
 * The context record of the native byte format to and from OpenTelemetry objects directly, and
 * the {@code traceparent}-only calls: the propagator's and the envelopes' fast paths, which skip
 * building a {@link TraceContext}.
 */
final class OtelRecords {
  /** Where the {@code traceparent}-only calls put their output in the scratch buffer. */
  private static final int TRACEPARENT_OUT = 64;
  /** The longest {@code traceparent} value parsed on the fast path. */
  private static final int TRACEPARENT_MAX = 1024;

  private OtelRecords() {}

  /**
   * Writes the span context and baggage of {@code context} as a context record: with the flags
   * and trace state the core says to send when {@code context} holds a received context the SDK
   * could not carry whole ({@link HeldContext}).
   */
  static void write(Scratch s, Context context) {
    SpanContext sc = Span.fromContext(context).getSpanContext();
    Baggage b = Baggage.fromContext(context);
    boolean valid = sc.isValid();
    HeldContext held = valid ? context.get(HeldContext.KEY) : null;
    HeldContext.Sent sent = held == null ? null : held.passOn(sc);
    s.u8((valid ? 1 : 0) | (sc.isRemote() ? 2 : 0));
    if (sent != null) {
      ContextRecords.writeIds(s, sc.getTraceId(), sc.getSpanId(), sent.flags());
      s.u32(sent.entries().length / 2);
      for (String e : sent.entries()) {
        s.str(e);
      }
    } else if (valid) {
      ContextRecords.writeIds(s, sc.getTraceId(), sc.getSpanId(), sc.getTraceFlags().asByte());
      TraceState ts = sc.getTraceState();
      s.u32(ts.size());
      if (!ts.isEmpty()) { // no lambda allocated on the common path
        ts.forEach(
            (k, v) -> {
              s.str(k);
              s.str(v);
            });
      }
    } else {
      s.u32(0);
    }
    s.u32(b.size());
    if (!b.isEmpty()) {
      b.forEach(
          (k, e) -> {
            s.str(k);
            s.str(e.getValue());
            s.str(e.getMetadata().getValue());
            s.u32(0);
          });
    }
  }

  /**
   * Reads a context record into {@code parent}: the span context as a non-recording span (with
   * what the SDK cannot carry of it held beside, see {@link HeldContext}), the baggage when not
   * empty.
   */
  static Context readInto(Scratch s, Context parent) {
    int flags = s.readU8();
    Context c = parent;
    SpanContext sc = null;
    String[] entries = null;
    if ((flags & 1) != 0) {
      String traceId = s.readAscii(32);
      String spanId = s.readAscii(16);
      TraceFlags tf = TraceFlags.fromByte((byte) s.readU8());
      entries = readEntries(s);
      TraceState ts = traceState(entries);
      sc =
          (flags & 2) != 0
              ? SpanContext.createFromRemoteParent(traceId, spanId, tf, ts)
              : SpanContext.create(traceId, spanId, tf, ts);
    } else {
      s.readU32();
    }
    if (sc != null && sc.isValid()) {
      c = HeldContext.hold(c.with(Span.wrap(sc)), sc, entries);
    }
    int n = s.readU32();
    if (n > 0) {
      BaggageBuilder b = Baggage.builder();
      for (int i = 0; i < n; i++) {
        String key = s.readStr();
        String value = s.readStr();
        String metadata = s.readStr();
        // The decoded properties repeat the metadata, which is what opentelemetry-java keeps.
        int np = s.readU32();
        for (int j = 0; j < np; j++) {
          s.skipStr();
          s.readU8();
          s.skipStr();
        }
        b.put(key, value, BaggageEntryMetadata.create(metadata));
      }
      c = c.with(b.build());
    }
    return c;
  }

  /** A trace state's entries: key, value, key, value... */
  private static String[] readEntries(Scratch s) {
    int n = s.readU32();
    String[] kv = new String[2 * n];
    for (int i = 0; i < 2 * n; i++) {
      kv[i] = s.readStr();
    }
    return kv;
  }

  /** The SDK's trace state of {@code kv}: the entries its builder accepts, in order. */
  private static TraceState traceState(String[] kv) {
    if (kv.length == 0) {
      return TraceState.getDefault();
    }
    TraceStateBuilder b = TraceState.builder();
    // The builder puts each new key in front: add from the back to keep the order.
    for (int i = kv.length / 2 - 1; i >= 0; i--) {
      b.put(kv[2 * i], kv[2 * i + 1]);
    }
    return b.build();
  }

  /**
   * The {@code traceparent} of a span context alone (no tracestate, no baggage): the core
   * validates the ids and formats it. Null when there is nothing to inject.
   */
  static String injectTraceParent(Scratch s, SpanContext sc) {
    String traceId = sc.getTraceId();
    String spanId = sc.getSpanId();
    if (traceId.length() != 32
        || spanId.length() != 16
        || !Scratch.isAscii(traceId)
        || !Scratch.isAscii(spanId)) {
      return null;
    }
    s.ascii(traceId, 32);
    s.ascii(spanId, 16);
    s.u8(sc.getTraceFlags().asByte());
    long addr = s.address();
    int n =
        Native.injectTraceParent(addr, addr + TRACEPARENT_OUT, s.capacity() - TRACEPARENT_OUT);
    if (n <= 0) {
      return null;
    }
    s.readFrom(TRACEPARENT_OUT, n);
    return s.readAscii(n);
  }

  /**
   * The core's parse of one {@code traceparent} line alone: the remote span context (with an
   * empty trace state), {@link SpanContext#getInvalid()} when the core rejects the value, or
   * null when the value is not short ASCII (the caller then takes the general path).
   */
  static SpanContext parseTraceParent(Scratch s, String value) {
    int n = value.length();
    if (n > TRACEPARENT_MAX || !Scratch.isAscii(value)) {
      return null;
    }
    s.ascii(value, n);
    int out = s.outputOffset();
    long addr = s.address();
    int r = Native.extractTraceParent(addr, n, addr + out, s.capacity() - out);
    if (r <= 0) {
      return SpanContext.getInvalid();
    }
    s.readFrom(out, r);
    String traceId = s.readAscii(32);
    String spanId = s.readAscii(16);
    TraceFlags tf = TraceFlags.fromByte((byte) s.readU8());
    return SpanContext.createFromRemoteParent(traceId, spanId, tf, TraceState.getDefault());
  }
}
