package dev.tracewire;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What a received frame holds after envelope decoding. Nothing is lost: every outcome carries
 * the payload to hand to the application.
 *
 * <ul>
 *   <li>{@link Kind#PLAIN}: no envelope; the payload is the frame.
 *   <li>{@link Kind#ENVELOPED}: a context and the payload after (binary) or with or without
 *       (JSON, stripping configured) the envelope.
 *   <li>{@link Kind#MALFORMED}: the frame claims an envelope but it is broken; the payload is the
 *       whole frame, unchanged, and {@link #error()} says why.
 * </ul>
 */
public final class Decoded {
  /** The three outcomes of decoding. */
  public enum Kind {
    /** No envelope. */
    PLAIN,
    /** A valid envelope. */
    ENVELOPED,
    /** A broken envelope; the frame is delivered unchanged. */
    MALFORMED
  }

  private final Kind kind;
  private final TraceContext context;
  private final TracewireException error;
  private final ByteBuffer payload;

  Decoded(Kind kind, TraceContext context, TracewireException error, ByteBuffer payload) {
    this.kind = kind;
    this.context = context;
    this.error = error;
    this.payload = payload;
  }

  /**
   * A frame that was not decoded (no envelope was negotiated for its type): {@link Kind#PLAIN},
   * the payload is {@code frame} itself.
   */
  public static Decoded plain(ByteBuffer frame) {
    return new Decoded(Kind.PLAIN, TraceContext.empty(), null, frame.slice());
  }

  /** The outcome. */
  public Kind kind() {
    return kind;
  }

  /** Whether a valid envelope was found. */
  public boolean isEnveloped() {
    return kind == Kind.ENVELOPED;
  }

  /** The received context ({@link TraceContext#empty()} unless enveloped). */
  public TraceContext context() {
    return context;
  }

  /** Why the envelope is malformed (null unless {@link Kind#MALFORMED}); never thrown. */
  public TracewireException error() {
    return error;
  }

  /**
   * The payload for the application, as a read-only view: of the frame itself when nothing was
   * removed or only a binary prefix was (no copy), or of a new buffer when JSON members were
   * stripped. Each call returns a fresh view.
   */
  public ByteBuffer payload() {
    return payload.asReadOnlyBuffer();
  }

  /** The payload as a new byte array. */
  public byte[] payloadBytes() {
    ByteBuffer p = payload.duplicate();
    byte[] b = new byte[p.remaining()];
    p.get(b);
    return b;
  }

  /** The payload decoded as UTF-8 (for text frames). */
  public String payloadText() {
    return StandardCharsets.UTF_8.decode(payload.duplicate()).toString();
  }

  /** The payload length in bytes (without the envelope). */
  public int payloadSize() {
    return payload.remaining();
  }

  @Override
  public String toString() {
    return "Decoded{"
        + kind
        + (kind == Kind.ENVELOPED ? ", " + context : "")
        + (error != null ? ", " + error : "")
        + ", payload="
        + payload.remaining()
        + " bytes}";
  }
}
