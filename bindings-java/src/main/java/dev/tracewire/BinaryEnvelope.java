package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.context.Context;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The binary envelope (docs/PROTOCOL.md section 5): a compact prefix (magic {@code F5 54 57},
 * version, flags, trace id, span id, flags, optional tracestate and baggage) before the payload
 * of a binary frame. Decoding never copies the payload and never throws for bad input (see
 * {@link Decoded}). Stateless and thread-safe.
 */
public final class BinaryEnvelope {
  // The longest prefix a frame can declare: fixed part, span context, two u16-length values.
  private static final int MAX_PREFIX = 5 + 25 + 2 + 65535 + 2 + 65535;

  private BinaryEnvelope() {}

  /** A new frame: the envelope for {@code ctx}, then {@code payload}. */
  public static byte[] encode(TraceContext ctx, byte[] payload) {
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, ctx);
      return encodeWritten(s, payload);
    }
  }

  /** {@link #encode(TraceContext, byte[])} with the span context and baggage of {@code context}. */
  public static byte[] encode(Context context, byte[] payload) {
    try (Scratch s = Scratch.get()) {
      OtelRecords.write(s, context);
      return encodeWritten(s, payload);
    }
  }

  private static byte[] encodeWritten(Scratch s, byte[] payload) {
    Objects.requireNonNull(payload, "payload");
    int ctxLen = s.position();
    s.bytesRaw(payload, 0, payload.length);
    s.call(
        (in, len, out, cap) ->
            Native.binaryEncode(in, ctxLen, in + ctxLen, len - ctxLen, out, cap));
    return s.readRemaining();
  }

  /**
   * Encodes into {@code dst} at its position (advancing it): the envelope for {@code ctx}, then
   * {@code payload}'s remaining bytes. A direct {@code payload} is read in place.
   *
   * @throws java.nio.BufferOverflowException when {@code dst} has too little room
   */
  public static void encode(TraceContext ctx, ByteBuffer payload, ByteBuffer dst) {
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, ctx);
      int ctxLen = s.position();
      if (payload.isDirect()) {
        long p = Native.address(payload) + payload.position();
        int plen = payload.remaining();
        s.call((in, len, out, cap) -> Native.binaryEncode(in, len, p, plen, out, cap));
        // The native code read the buffer's memory by address: keep the buffer
        // (whose cleaner frees that memory) reachable until it is done.
        Reference.reachabilityFence(payload);
      } else {
        s.bytesRaw(payload);
        s.call(
            (in, len, out, cap) ->
                Native.binaryEncode(in, ctxLen, in + ctxLen, len - ctxLen, out, cap));
      }
      if (dst.remaining() < s.remaining()) {
        throw new java.nio.BufferOverflowException();
      }
      s.readRemaining(dst);
    }
  }

  /** The envelope prefix alone (a carrier is exactly this; see {@link TraceContext#toCarrier()}). */
  public static byte[] header(TraceContext ctx) {
    return ctx.toCarrier();
  }

  /**
   * Reads the envelope of a received binary frame. The payload is a view of {@code frame} (no
   * copy), whatever the outcome.
   */
  public static Decoded decode(byte[] frame) {
    Objects.requireNonNull(frame, "frame");
    try (Scratch s = Scratch.get()) {
      // Only the prefix matters; the payload is never copied.
      int len = Math.min(frame.length, MAX_PREFIX);
      s.bytesRaw(frame, 0, len);
      s.call(Native::binaryDecode);
      return read(s, ByteBuffer.wrap(frame));
    }
  }

  /**
   * {@link #decode(byte[])} on a buffer's remaining bytes; a direct buffer is read in place and
   * the payload is a slice of it.
   */
  public static Decoded decode(ByteBuffer frame) {
    try (Scratch s = Scratch.get()) {
      ByteBuffer view = frame.slice();
      if (frame.isDirect()) {
        long a = Native.address(frame) + frame.position();
        int n = frame.remaining();
        s.call((in, len, out, cap) -> Native.binaryDecode(a, n, out, cap));
      } else {
        ByteBuffer prefix = view.duplicate();
        prefix.limit(Math.min(prefix.limit(), MAX_PREFIX));
        s.bytesRaw(prefix);
        s.call(Native::binaryDecode);
      }
      return read(s, view);
    }
  }

  private static Decoded read(Scratch s, ByteBuffer frame) {
    return Decoded.read(
        s,
        r -> {
          ByteBuffer payload = frame.duplicate();
          payload.position(payload.position() + r.readU32());
          return payload.slice();
        });
  }
}
