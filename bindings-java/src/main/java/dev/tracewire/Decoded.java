package dev.tracewire;

import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
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

  private static final Kind[] KINDS = Kind.values();

  private final Kind kind;
  private final TraceContext context;
  private final TracewireException error;
  private final String eventName;
  private final Attributes eventAttributes;
  private final ByteBuffer payload;
  private final int bodySize;

  private Decoded(
      Kind kind,
      TraceContext context,
      TracewireException error,
      String eventName,
      Attributes eventAttributes,
      ByteBuffer payload,
      int bodySize) {
    this.kind = kind;
    this.context = context;
    this.error = error;
    this.eventName = eventName;
    this.eventAttributes = eventAttributes;
    this.payload = payload;
    this.bodySize = bodySize;
  }

  /** Reads the payload part of a decoding record (it differs per native call). */
  @FunctionalInterface
  interface PayloadReader {
    ByteBuffer read(Scratch s);
  }

  /**
   * Reads a decoding record of the native library: {@code u8 outcome} (the bridge's {@code
   * DecodedKind} code, which {@link Kind} mirrors), then a context record (enveloped) or the
   * error's code and message and the event the core records for it (malformed), then the payload
   * through {@code payload}, then the application payload's size as the core counts it ({@code
   * u32}).
   */
  static Decoded read(Scratch s, PayloadReader payload) {
    Kind kind = KINDS[s.readU8()];
    TraceContext ctx = TraceContext.empty();
    TracewireException err = null;
    String eventName = null;
    Attributes eventAttributes = null;
    if (kind == Kind.ENVELOPED) {
      ctx = ContextRecords.read(s);
    } else if (kind == Kind.MALFORMED) {
      err = TracewireException.of(ErrorCode.of(s.readU32()), s.readStr());
      eventName = s.readStr();
      eventAttributes = ConnectionModel.readAttributes(s);
    }
    ByteBuffer p = payload.read(s);
    return new Decoded(kind, ctx, err, eventName, eventAttributes, p, s.readU32());
  }

  /**
   * A frame that was not decoded (no envelope was negotiated for its type): {@link Kind#PLAIN},
   * the payload is {@code frame} itself.
   */
  public static Decoded plain(ByteBuffer frame) {
    ByteBuffer p = frame.slice();
    return new Decoded(Kind.PLAIN, TraceContext.empty(), null, null, null, p, p.remaining());
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
   * Records on {@code span} (the message's receive span) what the core says this outcome leaves
   * there: for a malformed envelope, the OpenTelemetry {@code exception} event ({@code
   * exception.type} the error code's name, {@code exception.message} its text), the status left
   * alone since the message is still processed; nothing otherwise.
   */
  public void recordTo(Span span) {
    if (eventName != null) {
      span.addEvent(eventName, eventAttributes);
    }
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

  /**
   * The application payload's size, as {@code messaging.message.body.size} counts it: the
   * payload without the envelope's members even when they were not stripped (core {@code
   * Codec::payload_size}).
   */
  public int bodySize() {
    return bodySize;
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
