package dev.tracewire;

/**
 * A failure reported by the tracewire core, with its stable {@link ErrorCode}.
 *
 * <p>Decoding never throws for bad input: a malformed frame comes back as a {@link Decoded} with
 * its original bytes and this exception as {@link Decoded#error()}. Operations that cannot
 * produce a result (injecting into a frame that is not a JSON object, restoring a corrupt
 * carrier, parsing an invalid value on request) throw it.
 */
public class TracewireException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final ErrorCode code;

  /**
   * Creates an exception.
   *
   * @param code the core's error code
   * @param message what went wrong
   */
  public TracewireException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  /** The core's error code. */
  public ErrorCode code() {
    return code;
  }

  /** The exception for {@code code}: the subclass of that code, so callers can catch one kind. */
  public static TracewireException of(ErrorCode code, String message) {
    return switch (code) {
      case INVALID_TRACEPARENT -> new InvalidTraceParent(message);
      case INVALID_TRACESTATE -> new InvalidTraceState(message);
      case INVALID_BAGGAGE -> new InvalidBaggage(message);
      case INVALID_ENVELOPE, INVALID_CARRIER -> new InvalidEnvelope(code, message);
      case UNSUPPORTED_ENVELOPE_VERSION -> new UnsupportedEnvelopeVersion(message);
      case NOT_JSON_OBJECT -> new NotJsonObject(message);
      case INVALID_ARGUMENT -> new InvalidArgument(message);
      case INVALID_URL -> new InvalidUrl(message);
      case PANIC -> new Internal(message);
    };
  }

  /** Called by the native library to create the exception it throws. */
  static TracewireException fromNative(int code, String message) {
    return of(ErrorCode.of(code), message);
  }

  /** {@link ErrorCode#INVALID_TRACEPARENT}. */
  public static final class InvalidTraceParent extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public InvalidTraceParent(String message) {
      super(ErrorCode.INVALID_TRACEPARENT, message);
    }
  }

  /** {@link ErrorCode#INVALID_TRACESTATE}. */
  public static final class InvalidTraceState extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public InvalidTraceState(String message) {
      super(ErrorCode.INVALID_TRACESTATE, message);
    }
  }

  /** {@link ErrorCode#INVALID_BAGGAGE}. */
  public static final class InvalidBaggage extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public InvalidBaggage(String message) {
      super(ErrorCode.INVALID_BAGGAGE, message);
    }
  }

  /** {@link ErrorCode#INVALID_ENVELOPE} (or {@link ErrorCode#INVALID_CARRIER}). */
  public static final class InvalidEnvelope extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public InvalidEnvelope(ErrorCode code, String message) {
      super(code, message);
    }
  }

  /** {@link ErrorCode#UNSUPPORTED_ENVELOPE_VERSION}. */
  public static final class UnsupportedEnvelopeVersion extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public UnsupportedEnvelopeVersion(String message) {
      super(ErrorCode.UNSUPPORTED_ENVELOPE_VERSION, message);
    }
  }

  /** {@link ErrorCode#NOT_JSON_OBJECT}: send the frame as it is. */
  public static final class NotJsonObject extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public NotJsonObject(String message) {
      super(ErrorCode.NOT_JSON_OBJECT, message);
    }
  }

  /** {@link ErrorCode#INVALID_ARGUMENT}. */
  public static final class InvalidArgument extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public InvalidArgument(String message) {
      super(ErrorCode.INVALID_ARGUMENT, message);
    }
  }

  /** {@link ErrorCode#INVALID_URL}. */
  public static final class InvalidUrl extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public InvalidUrl(String message) {
      super(ErrorCode.INVALID_URL, message);
    }
  }

  /** {@link ErrorCode#PANIC}: an internal failure of the native library, caught at the boundary. */
  public static final class Internal extends TracewireException {
    private static final long serialVersionUID = 1L;

    /** Creates it. */
    public Internal(String message) {
      super(ErrorCode.PANIC, message);
    }
  }

  @Override
  public String toString() {
    return "TracewireException[" + code.name() + "(" + code.code() + ")]: " + getMessage();
  }
}
