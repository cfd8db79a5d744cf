package dev.tracewire;

import dev.tracewire.internal.Native;

/**
 * The core's stable error codes (docs/PROTOCOL.md section 8). The numbers are the same in every
 * language and never change meaning.
 */
public enum ErrorCode {
  /** A {@code traceparent} value is malformed. */
  INVALID_TRACEPARENT(1),
  /** A {@code tracestate} value or one of its keys or values is malformed. */
  INVALID_TRACESTATE(2),
  /** A {@code baggage} value or one of its members is malformed or over a limit. */
  INVALID_BAGGAGE(3),
  /** A frame claims to carry an envelope, but the envelope is malformed. */
  INVALID_ENVELOPE(4),
  /** A binary envelope of a version this library does not know. */
  UNSUPPORTED_ENVELOPE_VERSION(5),
  /** A JSON envelope cannot be added: the frame (or a member on the path) is not an object. */
  NOT_JSON_OBJECT(6),
  /** Reserved for carrier formats. */
  INVALID_CARRIER(7),
  /** A bad argument or configuration value (model name, member path, closed object). */
  INVALID_ARGUMENT(8),
  /** A URL or request target cannot be read (scheme not {@code ws}/{@code wss}, bad host or port). */
  INVALID_URL(9),
  /** An internal failure (a Rust panic) caught at the language boundary. */
  PANIC(100);

  private final int code;
  private volatile String coreName;

  ErrorCode(int code) {
    this.code = code;
  }

  /** The numeric code, as in every language. */
  public int code() {
    return code;
  }

  /** The core's machine-readable name: {@code invalid_traceparent}, ..., {@code panic}. */
  public String coreName() {
    String n = coreName;
    if (n == null) {
      n = Native.errorName(code);
      coreName = n;
    }
    return n;
  }

  /** The code with number {@code code}; a number this version does not know maps to {@link #PANIC}. */
  public static ErrorCode of(int code) {
    for (ErrorCode c : values()) {
      if (c.code == code) {
        return c;
      }
    }
    return PANIC;
  }
}
