package dev.tracewire.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A per-thread direct buffer through which inputs go to and outputs come from the native
 * library, so that a call passes only primitives (no JNI object conversions). Use with
 * try-with-resources; a nested use on the same thread gets its own buffer. Internal: not API.
 *
 * <p>Input is written from offset 0; {@link #call} places the output after it and reads it
 * back with the {@code read*} methods. This class knows the primitives of the byte format
 * (little-endian integers, length-prefixed UTF-8: the bridge's byte format); the records built from them live with the types
 * they carry, in {@code dev.tracewire}.
 */
public final class Scratch implements AutoCloseable {
  private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);
  private static final int INITIAL = 16 << 10;

  /**
   * Buffers for virtual threads, which may number in the millions: a buffer per thread would
   * hold 16 KiB of native memory each, so they borrow from here and give back on close. Bounded:
   * more buffers than carrier threads are rarely in use at once.
   */
  private static final ConcurrentLinkedQueue<Scratch> POOL = new ConcurrentLinkedQueue<>();

  private static final int POOL_MAX = 2 * Runtime.getRuntime().availableProcessors();
  private static final AtomicInteger POOLED = new AtomicInteger();

  /** {@code Thread.isVirtual()} (Java 21), or null on a runtime without virtual threads. */
  private static final MethodHandle IS_VIRTUAL = isVirtualHandle();
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
  /** A thread's own buffer, reused for its life; false for a nested or pooled one. */
  private final boolean shared;
  /** Borrowed from {@link #POOL} by a virtual thread; returned on close. */
  private boolean pooled;
  private byte[] tmp = new byte[256];

  private Scratch() {
    this(true);
  }

  private Scratch(boolean shared) {
    this.shared = shared;
    allocate(INITIAL);
  }

  /**
   * This thread's buffer, empty; a fresh one if this thread's is in use. A virtual thread gets
   * one from a shared pool instead.
   */
  public static Scratch get() {
    Scratch s;
    if (isVirtual()) {
      s = POOL.poll();
      if (s == null) {
        s = new Scratch(false);
      } else {
        POOLED.decrementAndGet();
      }
      s.pooled = true;
    } else {
      s = LOCAL.get();
      if (s.inUse) {
        s = new Scratch(false);
      }
    }
    s.inUse = true;
    s.pos = 0;
    return s;
  }

  @Override
  public void close() {
    inUse = false;
    if ((shared || pooled) && buf.capacity() > (1 << 20)) {
      // Do not keep a huge buffer for the life of the thread after one huge frame.
      allocate(INITIAL);
    }
    if (pooled) {
      pooled = false;
      if (POOLED.incrementAndGet() <= POOL_MAX) {
        POOL.offer(this);
      } else {
        POOLED.decrementAndGet();
      }
    }
  }

  private static boolean isVirtual() {
    if (IS_VIRTUAL == null) {
      return false;
    }
    try {
      return (boolean) IS_VIRTUAL.invokeExact(Thread.currentThread());
    } catch (Throwable e) {
      throw new AssertionError("Thread.isVirtual", e);
    }
  }

  private static MethodHandle isVirtualHandle() {
    try {
      return MethodHandles.publicLookup()
          .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
    } catch (NoSuchMethodException | IllegalAccessException e) {
      return null; // before Java 19: no virtual threads
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
    if (!isAscii(s)) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      u32(b.length);
      bytesRaw(b, 0, b.length);
      return;
    }
    u32(s.length());
    ascii(s, s.length());
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

  /** Whether every character of {@code s} is ASCII (so {@link #ascii} can write it). */
  public static boolean isAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
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

  /** {@code n} bytes of ASCII, without a length prefix. */
  public String readAscii(int n) {
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

  /** Skips a length-prefixed string. */
  public void skipStr() {
    int n = readU32();
    rp += n;
  }
}
