package dev.tracewire;

import dev.tracewire.internal.Scratch;
import java.util.ArrayList;
import java.util.List;

/**
 * The context record and baggage member of the native byte format (the bridge's
 * {@code bindings-bridge/src/wire.rs} documents the layout), to and from this package's values. It lives here, not
 * in {@code internal}, so that reading a record can call {@link TraceContext}'s factory directly:
 * the internal package never depends on the public API.
 */
final class ContextRecords {
  private static final String NO_TRACE_ID = "00000000000000000000000000000000";
  private static final String NO_SPAN_ID = "0000000000000000";

  private ContextRecords() {}

  /** Writes {@code c} as a context record. */
  static void write(Scratch s, TraceContext c) {
    s.u8((c.hasSpanContext() ? 1 : 0) | (c.isRemote() ? 2 : 0));
    if (c.hasSpanContext()) {
      writeIds(s, c.traceId(), c.spanId(), c.traceFlags());
    }
    List<TraceStateEntry> ts = c.traceState();
    s.u32(ts.size());
    for (TraceStateEntry e : ts) {
      s.str(e.key());
      s.str(e.value());
    }
    List<BaggageMember> bg = c.baggage();
    s.u32(bg.size());
    for (BaggageMember m : bg) {
      writeMember(s, m);
    }
  }

  /**
   * Writes the ids and flags of a record whose span context is present. A value that is not an
   * id is written as zeros, which the core reads as "no span context" (ids are validated by the
   * core, never here).
   */
  static void writeIds(Scratch s, String traceId, String spanId, byte flags) {
    boolean ids =
        traceId.length() == 32
            && spanId.length() == 16
            && Scratch.isAscii(traceId)
            && Scratch.isAscii(spanId);
    s.ascii(ids ? traceId : NO_TRACE_ID, 32);
    s.ascii(ids ? spanId : NO_SPAN_ID, 16);
    s.u8(flags);
  }

  /** Writes a baggage member with decoded properties (and no header-form metadata). */
  static void writeMember(Scratch s, BaggageMember m) {
    s.str(m.key());
    s.str(m.value());
    s.str("");
    s.u32(m.properties().size());
    for (BaggageMember.Property p : m.properties()) {
      s.str(p.key());
      s.u8(p.value() != null ? 1 : 0);
      s.str(p.value());
    }
  }

  /** Reads a context record. */
  static TraceContext read(Scratch s) {
    int flags = s.readU8();
    String traceId = null;
    String spanId = null;
    byte tf = 0;
    if ((flags & 1) != 0) {
      traceId = s.readAscii(32);
      spanId = s.readAscii(16);
      tf = (byte) s.readU8();
    }
    int n = s.readU32();
    List<TraceStateEntry> ts = n == 0 ? List.of() : new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ts.add(new TraceStateEntry(s.readStr(), s.readStr()));
    }
    n = s.readU32();
    List<BaggageMember> bg = n == 0 ? List.of() : new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      bg.add(readMember(s));
    }
    return TraceContext.fromWire(traceId, spanId, tf, ts, bg, (flags & 2) != 0);
  }

  /** Reads a baggage member with decoded properties (its header-form metadata is skipped). */
  static BaggageMember readMember(Scratch s) {
    String key = s.readStr();
    String value = s.readStr();
    s.skipStr();
    int np = s.readU32();
    List<BaggageMember.Property> props = np == 0 ? List.of() : new ArrayList<>(np);
    for (int j = 0; j < np; j++) {
      String k = s.readStr();
      boolean has = s.readU8() != 0;
      String v = s.readStr();
      props.add(new BaggageMember.Property(k, has ? v : null));
    }
    return new BaggageMember(key, value, props);
  }
}
