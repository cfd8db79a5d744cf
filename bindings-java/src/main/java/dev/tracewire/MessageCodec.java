package dev.tracewire;

import dev.tracewire.internal.Cleaners;
import dev.tracewire.internal.Native;
import dev.tracewire.internal.NativeHandle;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.context.Context;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The envelopes of one connection, applied by the core's message codec (docs/PROTOCOL.md section
 * 3.4): what each outgoing text or binary frame becomes for the negotiated envelopes, and what
 * the application and the receive span get of each incoming one (payload, context, and for a
 * malformed envelope the error and the event to record, see {@link Decoded#recordTo}). Every rule
 * is the core's; this class only moves bytes.
 *
 * <p>Thread-safe. {@link #close()} frees the native codec (idempotent; a {@link
 * java.lang.ref.Cleaner} frees it if you forget).
 */
public final class MessageCodec implements AutoCloseable {
  private final Envelopes envelopes;
  private final String jsonPath;
  private final boolean mcp;
  private final boolean strip;
  private final NativeHandle handle;

  /**
   * A codec for a connection, stripping received JSON members as the core does by default.
   *
   * @param envelopes the envelopes accepted on the connection
   * @param jsonPath the JSON envelope object's member path ({@code ""} or null: the default
   *     member, {@code tracewire})
   * @throws TracewireException {@code invalid_argument} for a path with an empty component
   */
  public MessageCodec(Envelopes envelopes, String jsonPath) {
    this(envelopes, jsonPath, Native.stripByDefault());
  }

  /**
   * A codec for a connection.
   *
   * @param envelopes the envelopes accepted on the connection
   * @param jsonPath the JSON envelope object's member path ({@code ""} or null: the default
   *     member, {@code tracewire})
   * @param strip whether received JSON payloads lose their envelope's W3C members
   * @throws TracewireException {@code invalid_argument} for a path with an empty component
   */
  public MessageCodec(Envelopes envelopes, String jsonPath, boolean strip) {
    this(envelopes, jsonPath, false, strip);
  }

  private MessageCodec(Envelopes envelopes, String jsonPath, boolean mcp, boolean strip) {
    this.envelopes = Objects.requireNonNull(envelopes, "envelopes");
    this.jsonPath = jsonPath == null ? "" : jsonPath;
    this.mcp = mcp;
    this.strip = strip;
    long h = Native.codecNew(envelopes.bits(), this.jsonPath, mcp, strip);
    this.handle = new NativeHandle(h, Native::codecFree, "MessageCodec");
    Cleaners.CLEANER.register(this, handle);
  }

  /**
   * A codec with {@code json}'s placement (member path or MCP mode) and stripping.
   *
   * @param envelopes the envelopes accepted on the connection
   * @param json the JSON envelope configuration (only read here)
   */
  public MessageCodec(Envelopes envelopes, JsonEnvelope json) {
    this(envelopes, json.path(), json.isMcp(), json.stripsOnExtract());
  }

  /**
   * A codec in MCP / JSON-RPC mode: the JSON context in {@code params._meta} of requests and
   * notifications and {@code result._meta} of results, read and written on every text frame
   * whatever the handshake negotiated, as MCP peers do ({@code envelopes} still decides binary
   * frames).
   *
   * @param envelopes the envelopes accepted on the connection
   * @param strip whether received JSON payloads lose their envelope's W3C members
   */
  public static MessageCodec mcp(Envelopes envelopes, boolean strip) {
    return new MessageCodec(envelopes, "", true, strip);
  }

  /**
   * Whether received JSON payloads lose their envelope members unless configured otherwise: the
   * core's default, the same in every language.
   */
  public static boolean stripByDefault() {
    return Native.stripByDefault();
  }

  /** The envelopes in use. */
  public Envelopes envelopes() {
    return envelopes;
  }

  /** The JSON envelope object's member path as given ({@code ""}: the default member). */
  public String jsonPath() {
    return jsonPath;
  }

  /** Whether this codec is in MCP / JSON-RPC mode. */
  public boolean isMcp() {
    return mcp;
  }

  /** Whether received JSON payloads lose their envelope members. */
  public boolean strips() {
    return strip;
  }

  /** The text frame to send for {@code text} in {@code context}. */
  public String encodeText(String text, Context context) {
    byte[] payload = text.getBytes(StandardCharsets.UTF_8);
    byte[] frame = encode(MessageType.TEXT, payload, context);
    return frame == null ? text : new String(frame, StandardCharsets.UTF_8);
  }

  /** The binary frame to send for {@code payload}'s remaining bytes in {@code context}. */
  public ByteBuffer encodeBinary(ByteBuffer payload, Context context) {
    byte[] p = new byte[payload.remaining()];
    payload.duplicate().get(p);
    byte[] frame = encode(MessageType.BINARY, p, context);
    return frame == null ? payload : ByteBuffer.wrap(frame);
  }

  /**
   * The frame to send for {@code payload} of {@code type} in {@code context}, or null when the
   * payload goes as it is.
   */
  public byte[] encode(MessageType type, byte[] payload, Context context) {
    Objects.requireNonNull(payload, "payload");
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      OtelRecords.write(s, context);
      int ctxLen = s.position();
      s.bytesRaw(payload, 0, payload.length);
      int t = type.ordinal();
      s.call(
          (in, len, out, cap) ->
              Native.codecEncode(h, t, in, ctxLen, in + ctxLen, len - ctxLen, out, cap));
      return s.readU8() == 0 ? null : s.readRemaining();
    } finally {
      handle.release();
    }
  }

  /** Decodes a received text frame. */
  public Decoded decodeText(String text) {
    return decode(MessageType.TEXT, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
  }

  /** Decodes a received binary frame's remaining bytes. */
  public Decoded decodeBinary(ByteBuffer frame) {
    return decode(MessageType.BINARY, frame);
  }

  /**
   * Decodes a received frame's remaining bytes ({@code frame} is not moved). The payload is a
   * view of {@code frame} unless members were stripped; a direct buffer is read in place.
   */
  public Decoded decode(MessageType type, ByteBuffer frame) {
    ByteBuffer view = frame.slice();
    int t = type.ordinal();
    long h = handle.acquire();
    try (Scratch s = Scratch.get()) {
      if (frame.isDirect()) {
        long a = Native.address(frame) + frame.position();
        int n = frame.remaining();
        s.call((in, len, out, cap) -> Native.codecDecode(h, t, a, n, out, cap));
      } else {
        s.bytesRaw(view);
        s.call((in, len, out, cap) -> Native.codecDecode(h, t, in, len, out, cap));
      }
      return Decoded.read(
          s,
          r -> {
            if (r.readU8() == 1) {
              return ByteBuffer.wrap(r.readBytes());
            }
            int offset = r.readU32();
            int length = r.readU32();
            return view.slice(offset, length);
          });
    } finally {
      handle.release();
    }
  }

  /** Frees the native codec; later calls throw {@link IllegalStateException}. */
  @Override
  public void close() {
    handle.close();
  }

  @Override
  public String toString() {
    return "MessageCodec{" + envelopes + ", path=" + jsonPath + ", strip=" + strip + "}";
  }
}
