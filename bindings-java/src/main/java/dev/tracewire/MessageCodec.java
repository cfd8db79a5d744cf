package dev.tracewire;

import io.opentelemetry.context.Context;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The envelopes of one connection, applied as the protocol says (docs/PROTOCOL.md section 3.4):
 * a text frame that is a JSON object gets the JSON envelope when {@code json} was accepted
 * (other text is sent unchanged); every binary frame gets the binary envelope when {@code binary}
 * was accepted; a receiver decodes only the accepted envelopes and delivers everything else
 * unchanged. Thread-safe.
 */
public final class MessageCodec {
  private final Envelopes envelopes;
  private final JsonEnvelope json;

  /**
   * A codec for a connection.
   *
   * @param envelopes the envelopes accepted on the connection
   * @param json the JSON envelope configuration (member path, stripping); owned by the caller
   */
  public MessageCodec(Envelopes envelopes, JsonEnvelope json) {
    this.envelopes = Objects.requireNonNull(envelopes, "envelopes");
    this.json = Objects.requireNonNull(json, "json");
  }

  /** The envelopes in use. */
  public Envelopes envelopes() {
    return envelopes;
  }

  /** The text frame to send for {@code text} in {@code context}. */
  public String encodeText(String text, Context context) {
    if (!envelopes.json()) {
      return text;
    }
    try {
      return json.inject(text, context);
    } catch (TracewireException e) {
      if (e.code() == ErrorCode.NOT_JSON_OBJECT) {
        return text; // Not a JSON object: sent as it is, as the protocol says.
      }
      throw e;
    }
  }

  /** The binary frame to send for {@code payload}'s remaining bytes in {@code context}. */
  public ByteBuffer encodeBinary(ByteBuffer payload, Context context) {
    if (!envelopes.binary()) {
      return payload;
    }
    byte[] p = new byte[payload.remaining()];
    payload.duplicate().get(p);
    return ByteBuffer.wrap(BinaryEnvelope.encode(context, p));
  }

  /** Decodes a received text frame (plain unless {@code json} was accepted). */
  public Decoded decodeText(String text) {
    if (!envelopes.json()) {
      return Decoded.plain(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
    }
    return json.extract(text);
  }

  /** Decodes a received binary frame (plain unless {@code binary} was accepted). */
  public Decoded decodeBinary(ByteBuffer frame) {
    if (!envelopes.binary()) {
      return Decoded.plain(frame);
    }
    return BinaryEnvelope.decode(frame);
  }
}
