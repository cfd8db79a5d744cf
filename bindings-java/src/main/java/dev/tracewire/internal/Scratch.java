package dev.tracewire.internal;

import dev.tracewire.BaggageMember;
import dev.tracewire.TraceContext;
import dev.tracewire.TraceStateEntry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.BaggageBuilder;
import io.opentelemetry.api.baggage.BaggageEntryMetadata;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.TraceStateBuilder;
import io.opentelemetry.context.Context;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A per-thread direct buffer through which inputs go to and outputs come from the native
 * library, so that a call passes only primitives (no JNI object conversions). Use with
 * try-with-resources; a nested use on the same thread gets its own buffer. Internal: not API.
 *
 * <p>Input is written from offset 0; {@link #call} places the output after it and reads it
 * back with the {@code read*} methods.
 */
public final class Scratch implements AutoCloseable {
  private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);
  private static final int INITIAL = 16 << 10;
  private static final VarHandle INT =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle LONG =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /** A native function taking an input and an output region. */
  @FunctionalInterface
  public interface Call {
    /** Calls it; returns the output length, or minus the length needed. */
    int call(long in, int inLen, long out, int cap);
  }

  private ByteBuffer buf;
  private long addr;
  private int pos;
  private int rp;
  private int rend;
  private boolean inUse;
  private final boolean shared;
  private byte[] tmp = new byte[256];

  private Scratch() {
    this(true);
  }

  private Scratch(boolean shared) {
    this.shared = shared;
    allocate(INITIAL);
  }

  /** This thread's buffer, empty; a fresh one if this thread's is in use. */
  public static Scratch get() {
    Scratch s = LOCAL.get();
    if (s.inUse) {
      s = new Scratch(false);
    }
    s.inUse = true;
    s.pos = 0;
    return s;
  }

  @Override
  public void close() {
    inUse = false;
    if (shared && buf.capacity() > (1 << 20)) {
      // Do not keep a huge buffer for the life of the thread after one huge frame.
      allocate(INITIAL);
    }
  }

  private void allocate(int cap) {
    buf = ByteBuffer.allocateDirect(cap);
    addr = Native.address(buf);
  }

  /** The address of the buffer (valid until the next write that grows it). */
  public long address() {
    return addr;
  }

  /** The current write position (the input length so far). */
  public int position() {
    return pos;
  }

  /** Makes room for {@code n} more bytes at the write position, keeping what was written. */
  public void need(int n) {
    long want = (long) pos + n;
    if (want > buf.capacity()) {
      grow(want);
    }
  }

  private void grow(long want) {
    if (want > Integer.MAX_VALUE - 64) {
      throw new OutOfMemoryError("tracewire: buffer over 2 GiB");
    }
    int cap = (int) Math.min(Integer.MAX_VALUE - 64, Math.max(want, (long) buf.capacity() * 2));
    ByteBuffer old = buf;
    ByteBuffer nb = ByteBuffer.allocateDirect(cap);
    nb.put(0, old, 0, Math.min(old.capacity(), cap));
    buf = nb;
    addr = Native.address(nb);
  }

  // ------------------------------------------------------------------ writing

  public void u8(int v) {
    need(1);
    buf.put(pos++, (byte) v);
  }

  public void u32(int v) {
    need(4);
    INT.set(buf, pos, v);
    pos += 4;
  }

  public void i64(long v) {
    need(8);
    LONG.set(buf, pos, v);
    pos += 8;
  }

  /** Overwrites the {@code u32} at {@code at} (a count written before it was known). */
  public void patchU32(int at, int v) {
    INT.set(buf, at, v);
  }

  /** Bytes without a length prefix. */
  public void bytesRaw(byte[] b, int off, int len) {
    need(len);
    buf.put(pos, b, off, len);
    pos += len;
  }

  /** The remaining bytes of {@code src} without a length prefix ({@code src} is not moved). */
  public void bytesRaw(ByteBuffer src) {
    int len = src.remaining();
    need(len);
    buf.put(pos, src, src.position(), len);
    pos += len;
  }

  /** A length-prefixed UTF-8 string (null is written as empty). */
  public void str(String s) {
    if (s == null) {
      u32(0);
      return;
    }
    int n = s.length();
    for (int i = 0; i < n; i++) {
      if (s.charAt(i) >= 0x80) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        u32(b.length);
        bytesRaw(b, 0, b.length);
        return;
      }
    }
    u32(n);
    ascii(s, n);
  }

  /** The first {@code n} characters of {@code s}, which are ASCII, as bytes (no prefix). */
  @SuppressWarnings("deprecation")
  public void ascii(String s, int n) {
    need(n);
    if (tmp.length < n) {
      tmp = new byte[Math.max(n, tmp.length * 2)];
    }
    // Latin-1 copy without allocation; the caller guarantees ASCII.
    s.getBytes(0, n, tmp, 0);
    buf.put(pos, tmp, 0, n);
    pos += n;
  }

  /** A context record from the Java value. */
  public void writeContext(TraceContext c) {
    u8((c.hasSpanContext() ? 1 : 0) | (c.isRemote() ? 2 : 0));
    if (c.hasSpanContext()) {
      writeIds(c.traceId(), c.spanId(), c.traceFlags());
    }
    List<TraceStateEntry> ts = c.traceState();
    u32(ts.size());
    for (TraceStateEntry e : ts) {
      str(e.key());
      str(e.value());
    }
    List<BaggageMember> bg = c.baggage();
    u32(bg.size());
    for (BaggageMember m : bg) {
      writeMember(m);
    }
  }

  private void writeIds(String traceId, String spanId, byte flags) {
    if (traceId.length() != 32 || spanId.length() != 16 || !isAscii(traceId) || !isAscii(spanId)) {
      // Not an id: write zeros, which the core reads as "no span context".
      ascii("00000000000000000000000000000000", 32);
      ascii("0000000000000000", 16);
    } else {
      ascii(traceId, 32);
      ascii(spanId, 16);
    }
    u8(flags);
  }

  private static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }

  /** A baggage member with decoded properties. */
  public void writeMember(BaggageMember m) {
    str(m.key());
    str(m.value());
    str("");
    u32(m.properties().size());
    for (BaggageMember.Property p : m.properties()) {
      str(p.key());
      u8(p.value() != null ? 1 : 0);
      str(p.value());
    }
  }

  /**
   * The propagator's inject for a span context alone (no tracestate, no baggage): the core
   * validates the ids and formats the {@code traceparent}. Returns null when there is nothing to
   * inject.
   */
  public String injectTraceParent(SpanContext sc) {
    String traceId = sc.getTraceId();
    String spanId = sc.getSpanId();
    if (traceId.length() != 32 || spanId.length() != 16 || !isAscii(traceId) || !isAscii(spanId)) {
      return null;
    }
    ascii(traceId, 32);
    ascii(spanId, 16);
    u8(sc.getTraceFlags().asByte());
    int n = Native.injectTraceParent(addr, addr + 64, buf.capacity() - 64);
    if (n <= 0) {
      return null;
    }
    buf.get(64, tmp, 0, n);
    return new String(tmp, 0, n, StandardCharsets.ISO_8859_1);
  }

  /**
   * The propagator's parse of one {@code traceparent} line alone: the core parses it. Returns
   * the remote span context (with an empty trace state), {@link SpanContext#getInvalid()} when
   * the core rejects the value, or null when the value is not short ASCII (the caller then
   * takes the general path).
   */
  public SpanContext parseTraceParent(String value) {
    int n = value.length();
    if (n > 1024 || !isAscii(value)) {
      return null;
    }
    ascii(value, n);
    int out = (n + 7) & ~7;
    int r = Native.extractTraceParent(addr, n, addr + out, buf.capacity() - out);
    if (r <= 0) {
      return SpanContext.getInvalid();
    }
    rp = out;
    rend = out + r;
    String traceId = readAscii(32);
    String spanId = readAscii(16);
    TraceFlags tf = TraceFlags.fromByte((byte) readU8());
    return SpanContext.createFromRemoteParent(traceId, spanId, tf, TraceState.getDefault());
  }

  /** A context record from an OpenTelemetry context (the propagator's fast path). */
  public void writeContext(Context context) {
    SpanContext sc = Span.fromContext(context).getSpanContext();
    Baggage b = Baggage.fromContext(context);
    boolean valid = sc.isValid();
    u8((valid ? 1 : 0) | (sc.isRemote() ? 2 : 0));
    if (valid) {
      writeIds(sc.getTraceId(), sc.getSpanId(), sc.getTraceFlags().asByte());
      TraceState ts = sc.getTraceState();
      u32(ts.size());
      if (!ts.isEmpty()) {
        ts.forEach(
            (k, v) -> {
              str(k);
              str(v);
            });
      }
    } else {
      u32(0);
    }
    u32(b.size());
    if (!b.isEmpty()) {
      b.forEach(
          (k, e) -> {
            str(k);
            str(e.getValue());
            str(e.getMetadata().getValue());
            u32(0);
          });
    }
  }

  // ------------------------------------------------------------------ calling

  /** Calls {@code f} with the input written so far; the output is then ready to read. */
  public int call(Call f) {
    int inLen = pos;
    int outOff = (inLen + 7) & ~7;
    int cap = buf.capacity() - outOff;
    int n = f.call(addr, inLen, addr + outOff, cap);
    if (n < 0) {
      grow((long) outOff - n);
      n = f.call(addr, inLen, addr + outOff, buf.capacity() - outOff);
      if (n < 0) {
        throw new IllegalStateException("tracewire: native output did not fit twice");
      }
    }
    rp = outOff;
    rend = outOff + n;
    return n;
  }

  /** Makes the output of a call that wrote at {@code outOff} ready to read. */
  public void readFrom(int outOff, int n) {
    rp = outOff;
    rend = outOff + n;
  }

  /** Reserves an aligned output region after the input; returns its offset. */
  public int outputOffset() {
    return (pos + 7) & ~7;
  }

  /** Grows so that {@code total} bytes fit from offset 0, keeping the content. */
  public void ensureCapacity(long total) {
    if (total > buf.capacity()) {
      grow(total);
    }
  }

  /** The buffer's capacity. */
  public int capacity() {
    return buf.capacity();
  }

  // ------------------------------------------------------------------ reading

  public int readU8() {
    return buf.get(rp++) & 0xff;
  }

  public int readU32() {
    int v = (int) INT.get(buf, rp);
    rp += 4;
    return v;
  }

  public long readI64() {
    long v = (long) LONG.get(buf, rp);
    rp += 8;
    return v;
  }

  public double readF64() {
    return Double.longBitsToDouble(readI64());
  }

  public String readStr() {
    int n = readU32();
    if (n == 0) {
      return "";
    }
    if (tmp.length < n) {
      tmp = new byte[Math.max(n, tmp.length * 2)];
    }
    buf.get(rp, tmp, 0, n);
    rp += n;
    return new String(tmp, 0, n, StandardCharsets.UTF_8);
  }

  private String readAscii(int n) {
    if (tmp.length < n) {
      tmp = new byte[Math.max(n, tmp.length * 2)];
    }
    buf.get(rp, tmp, 0, n);
    rp += n;
    return new String(tmp, 0, n, StandardCharsets.ISO_8859_1);
  }

  /** A length-prefixed byte string, copied. */
  public byte[] readBytes() {
    int n = readU32();
    byte[] b = new byte[n];
    buf.get(rp, b, 0, n);
    rp += n;
    return b;
  }

  /** Everything left of the output, copied. */
  public byte[] readRemaining() {
    byte[] b = new byte[rend - rp];
    buf.get(rp, b, 0, b.length);
    rp = rend;
    return b;
  }

  /** Copies everything left of the output into {@code dst} at its position (advancing it). */
  public void readRemaining(ByteBuffer dst) {
    int n = rend - rp;
    dst.put(dst.position(), buf, rp, n);
    dst.position(dst.position() + n);
    rp = rend;
  }

  /** How many output bytes are left. */
  public int remaining() {
    return rend - rp;
  }

  /** A context record as the Java value. */
  public TraceContext readContext() {
    int flags = readU8();
    String traceId = null;
    String spanId = null;
    byte tf = 0;
    if ((flags & 1) != 0) {
      traceId = readAscii(32);
      spanId = readAscii(16);
      tf = (byte) readU8();
    }
    int n = readU32();
    List<TraceStateEntry> ts = n == 0 ? List.of() : new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ts.add(new TraceStateEntry(readStr(), readStr()));
    }
    n = readU32();
    List<BaggageMember> bg = n == 0 ? List.of() : new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      bg.add(readMember());
    }
    return Bridge.traceContext(traceId, spanId, tf, ts, bg, (flags & 2) != 0);
  }

  /** A baggage member with decoded properties (its metadata is skipped). */
  public BaggageMember readMember() {
    String key = readStr();
    String value = readStr();
    skipStr();
    int np = readU32();
    List<BaggageMember.Property> props = np == 0 ? List.of() : new ArrayList<>(np);
    for (int j = 0; j < np; j++) {
      String k = readStr();
      boolean has = readU8() != 0;
      String v = readStr();
      props.add(new BaggageMember.Property(k, has ? v : null));
    }
    return new BaggageMember(key, value, props);
  }

  private void skipStr() {
    int n = readU32();
    rp += n;
  }

  /**
   * A context record stored into {@code parent}, as OpenTelemetry objects (the propagator's
   * fast path): the span context as a non-recording span, the baggage when not empty.
   */
  public Context readIntoContext(Context parent) {
    int flags = readU8();
    Context c = parent;
    SpanContext sc = null;
    if ((flags & 1) != 0) {
      String traceId = readAscii(32);
      String spanId = readAscii(16);
      TraceFlags tf = TraceFlags.fromByte((byte) readU8());
      int n = readU32();
      TraceState ts;
      if (n == 0) {
        ts = TraceState.getDefault();
      } else {
        String[] kv = new String[2 * n];
        for (int i = 0; i < 2 * n; i++) {
          kv[i] = readStr();
        }
        TraceStateBuilder b = TraceState.builder();
        // The builder puts each new key in front: add from the back to keep the order.
        for (int i = n - 1; i >= 0; i--) {
          b.put(kv[2 * i], kv[2 * i + 1]);
        }
        ts = b.build();
      }
      sc =
          (flags & 2) != 0
              ? SpanContext.createFromRemoteParent(traceId, spanId, tf, ts)
              : SpanContext.create(traceId, spanId, tf, ts);
    } else {
      readU32();
    }
    if (sc != null && sc.isValid()) {
      c = c.with(Span.wrap(sc));
    }
    int n = readU32();
    if (n > 0) {
      BaggageBuilder b = Baggage.builder();
      for (int i = 0; i < n; i++) {
        String key = readStr();
        String value = readStr();
        String metadata = readStr();
        int np = readU32();
        for (int j = 0; j < np; j++) {
          skipStr();
          rp++;
          skipStr();
        }
        b.put(key, value, BaggageEntryMetadata.create(metadata));
      }
      c = c.with(b.build());
    }
    return c;
  }

  // ------------------------------------------------------------------ helpers

  /** A member from opentelemetry-java's key, value and header-form metadata (core parses it). */
  public static BaggageMember memberFromMetadata(String key, String value, String metadata) {
    if (metadata == null || metadata.isEmpty()) {
      return new BaggageMember(key, value);
    }
    try (Scratch s = get()) {
      s.u32(1);
      s.str(key);
      s.str(value);
      s.str(metadata);
      s.u32(0);
      s.call((in, len, out, cap) -> Native.w3c(5, in, len, out, cap));
      s.readU32();
      return s.readMember();
    } catch (RuntimeException e) {
      return new BaggageMember(key, value);
    }
  }

  /** The header-form metadata of a member's properties (serialised by the core). */
  public static String metadataOf(BaggageMember m) {
    if (m.properties().isEmpty()) {
      return "";
    }
    try (Scratch s = get()) {
      s.u32(1);
      s.writeMember(m);
      s.call((in, len, out, cap) -> Native.w3c(5, in, len, out, cap));
      s.readU32();
      s.readStr();
      s.readStr();
      return s.readStr();
    } catch (RuntimeException e) {
      return "";
    }
  }
}
