package dev.tracewire;

import dev.tracewire.internal.Cleaners;
import dev.tracewire.internal.Native;
import dev.tracewire.internal.NativeHandle;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.context.Context;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The JSON envelope (docs/PROTOCOL.md section 4): one envelope object in a JSON text frame holding
 * {@code traceparent}, {@code tracestate} and {@code baggage} members, at a member path (default:
 * the top-level member {@code tracewire}), or in MCP mode ({@link #mcp()}) at {@code params._meta}
 * of requests and notifications and {@code result._meta} of results. Injection replaces the three
 * values as a unit and copies the rest of the frame byte for byte; extraction never fails (see
 * {@link Decoded}).
 *
 * <p>Thread-safe. {@link #close()} frees the native configuration (idempotent; a {@link
 * java.lang.ref.Cleaner} frees it if you forget).
 *
 * <pre>{@code
 * try (JsonEnvelope env = JsonEnvelope.atDefaultPath()) {
 *   byte[] out = env.inject("{\"type\":\"chat\"}".getBytes(UTF_8), TraceContext.current());
 *   Decoded in = env.extract(out);
 * }
 * }</pre>
 */
public final class JsonEnvelope implements AutoCloseable {
  // Envelope members of a typical context: traceparent and a short tracestate/baggage.
  private static final int SLACK = 256;

  private final String path;
  private final boolean mcp;
  private final boolean strip;
  private final NativeHandle handle;

  /**
   * An envelope object at {@code path}.
   *
   * @param path a dot-separated member path ({@code ""}: the default member, {@code tracewire})
   * @param stripOnExtract whether {@link #extract} removes the W3C members from the payload
   * @throws TracewireException {@code invalid_argument} for a path with an empty component
   */
  public JsonEnvelope(String path, boolean stripOnExtract) {
    this(path, false, stripOnExtract);
  }

  private JsonEnvelope(String path, boolean mcp, boolean stripOnExtract) {
    this.path = path == null ? "" : path;
    this.mcp = mcp;
    this.strip = stripOnExtract;
    long h = Native.jsonNew(this.path, mcp, stripOnExtract);
    this.handle = new NativeHandle(h, Native::jsonFree, "JsonEnvelope");
    Cleaners.CLEANER.register(this, handle);
  }

  /**
   * An envelope at {@code path}, stripping on extract as the core does by default (in every
   * language).
   *
   * @throws TracewireException {@code invalid_argument} for a path with an empty component
   */
  public JsonEnvelope(String path) {
    this(path, Native.stripByDefault());
  }

  /**
   * The envelope object at the default member, {@code tracewire}, stripped on extract as the
   * core's default says.
   */
  public static JsonEnvelope atDefaultPath() {
    return new JsonEnvelope("");
  }

  /** The envelope object at {@code path}, stripped as the core's default says. */
  public static JsonEnvelope atPath(String path) {
    return new JsonEnvelope(path);
  }

  /**
   * MCP / JSON-RPC mode, stripped as the core's default says: the context in {@code params._meta}
   * of requests and notifications and {@code result._meta} of results, each message of a batch
   * its own.
   */
  public static JsonEnvelope mcp() {
    return mcp(Native.stripByDefault());
  }

  /** {@link #mcp()} with {@code stripOnExtract} as for {@link #JsonEnvelope(String, boolean)}. */
  public static JsonEnvelope mcp(boolean stripOnExtract) {
    return new JsonEnvelope("", true, stripOnExtract);
  }

  /** The member path as given ({@code ""}: the default member; ignored in MCP mode). */
  public String path() {
    return path;
  }

  /** Whether this is MCP / JSON-RPC mode. */
  public boolean isMcp() {
    return mcp;
  }

  /** Whether extraction strips the envelope members from the payload. */
  public boolean stripsOnExtract() {
    return strip;
  }

  /**
   * Adds {@code ctx} to {@code frame} (a JSON object): every W3C member of the envelope object
   * goes (a forwarded frame's context is never paired with ours) and the context's members come
   * first in it; the envelope object is created when missing.
   *
   * @throws TracewireException {@code not_json_object} when the frame or a member on the path
   *     is not an object (send the frame as it is)
   */
  public byte[] inject(byte[] frame, TraceContext ctx) {
    Objects.requireNonNull(frame, "frame");
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, ctx);
      return injectWritten(h, s, frame, 0, frame.length);
    } finally {
      handle.release();
    }
  }

  /** {@link #inject(byte[], TraceContext)} with the span context and baggage of {@code context}. */
  public byte[] inject(byte[] frame, Context context) {
    Objects.requireNonNull(frame, "frame");
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      OtelRecords.write(s, context);
      return injectWritten(h, s, frame, 0, frame.length);
    } finally {
      handle.release();
    }
  }

  /** {@link #inject(byte[], TraceContext)} on text. */
  public String inject(String text, TraceContext ctx) {
    return new String(inject(text.getBytes(StandardCharsets.UTF_8), ctx), StandardCharsets.UTF_8);
  }

  /** {@link #inject(byte[], Context)} on text. */
  public String inject(String text, Context context) {
    return new String(
        inject(text.getBytes(StandardCharsets.UTF_8), context), StandardCharsets.UTF_8);
  }

  /**
   * {@link #inject(byte[], Context)} on a buffer's remaining bytes; a direct buffer is read in
   * place (not copied in). Returns a new heap buffer with the frame to send.
   */
  public ByteBuffer inject(ByteBuffer frame, Context context) {
    if (!frame.isDirect()) {
      byte[] b = new byte[frame.remaining()];
      frame.duplicate().get(b);
      return ByteBuffer.wrap(inject(b, context));
    }
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      OtelRecords.write(s, context);
      int ctxLen = s.position();
      long f = Native.address(frame) + frame.position();
      int len = frame.remaining();
      s.call((in, inLen, out, cap) -> Native.jsonInject(h, in, ctxLen, f, len, out, cap));
      return ByteBuffer.wrap(s.readRemaining());
    } finally {
      // The native code read the frame's memory by address: keep the buffer
      // (whose cleaner frees that memory) reachable until it is done.
      Reference.reachabilityFence(frame);
      handle.release();
    }
  }

  private static byte[] injectWritten(long h, Scratch s, byte[] frame, int off, int len) {
    int ctxLen = s.position();
    s.bytesRaw(frame, off, len);
    int outOff = s.outputOffset();
    s.ensureCapacity((long) outOff + len + SLACK);
    int n =
        Native.jsonInject(
            h, s.address(), ctxLen, s.address() + ctxLen, len, s.address() + outOff,
            s.capacity() - outOff);
    if (n < 0) {
      s.ensureCapacity((long) outOff - n);
      n =
          Native.jsonInject(
              h, s.address(), ctxLen, s.address() + ctxLen, len, s.address() + outOff,
              s.capacity() - outOff);
    }
    s.readFrom(outOff, n);
    return s.readRemaining();
  }

  /**
   * Reads the envelope of a received text frame. Never throws for bad input: see {@link
   * Decoded}. Without stripping, the payload is a view of {@code frame} (no copy).
   */
  public Decoded extract(byte[] frame) {
    Objects.requireNonNull(frame, "frame");
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      s.bytesRaw(frame, 0, frame.length);
      int outOff = s.outputOffset();
      int n =
          Native.jsonExtract(
              h, s.address(), frame.length, s.address() + outOff, s.capacity() - outOff);
      if (n < 0) {
        s.ensureCapacity((long) outOff - n);
        n =
            Native.jsonExtract(
                h, s.address(), frame.length, s.address() + outOff, s.capacity() - outOff);
      }
      s.readFrom(outOff, n);
      return read(s, ByteBuffer.wrap(frame));
    } finally {
      handle.release();
    }
  }

  /**
   * {@link #extract(byte[])} on a buffer's remaining bytes; a direct buffer is read in place
   * (not copied), and without stripping the payload is a view of it.
   */
  public Decoded extract(ByteBuffer frame) {
    if (!frame.isDirect()) {
      if (frame.hasArray()) {
        return extractHeap(frame);
      }
      byte[] b = new byte[frame.remaining()];
      frame.duplicate().get(b);
      return extract(b);
    }
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      long a = Native.address(frame) + frame.position();
      int n = Native.jsonExtract(h, a, frame.remaining(), s.address(), s.capacity());
      if (n < 0) {
        s.ensureCapacity(-n);
        n = Native.jsonExtract(h, a, frame.remaining(), s.address(), s.capacity());
      }
      s.readFrom(0, n);
      return read(s, frame.slice());
    } finally {
      handle.release();
    }
  }

  private Decoded extractHeap(ByteBuffer frame) {
    byte[] copy = new byte[frame.remaining()];
    frame.duplicate().get(copy);
    Decoded d = extract(copy);
    return d;
  }

  /** {@link #extract(byte[])} on text; {@link Decoded#payloadText()} gives the text back. */
  public Decoded extract(String text) {
    return extract(text.getBytes(StandardCharsets.UTF_8));
  }

  private static Decoded read(Scratch s, ByteBuffer frame) {
    return Decoded.read(s, r -> r.readU8() == 1 ? ByteBuffer.wrap(r.readBytes()) : frame);
  }

  /** Frees the native configuration; later calls throw {@link IllegalStateException}. */
  @Override
  public void close() {
    handle.close();
  }

  @Override
  public String toString() {
    return "JsonEnvelope{path=" + path + ", strip=" + strip + "}";
  }
}
