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

  /** Called by the native library to create the exception it throws. */
  static TracewireException fromNative(int code, String message) {
    return new TracewireException(ErrorCode.of(code), message);
  }

  @Override
  public String toString() {
    return "TracewireException[" + code.name() + "(" + code.code() + ")]: " + getMessage();
  }
}
