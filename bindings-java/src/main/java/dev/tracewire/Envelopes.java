package dev.tracewire;

import dev.tracewire.internal.Native;

/**
 * A set of envelope formats, as offered by a client or selected by a server (the set a {@code
 * tracewire.v1.*} subprotocol token names: {@code json}, {@code binary}). Immutable.
 *
 * @param json the JSON envelope on text frames
 * @param binary the binary envelope on binary frames
 */
public record Envelopes(boolean json, boolean binary) {
  /** No envelopes: context travels only in the handshake. */
  public static final Envelopes NONE = new Envelopes(false, false);
  /** Both formats. */
  public static final Envelopes ALL = new Envelopes(true, true);
  /** The JSON envelope only. */
  public static final Envelopes JSON = new Envelopes(true, false);
  /** The binary envelope only. */
  public static final Envelopes BINARY = new Envelopes(false, true);

  /** Whether the set is empty. */
  public boolean isEmpty() {
    return !json && !binary;
  }

  int bits() {
    return (json ? Native.ENVELOPE_JSON : 0) | (binary ? Native.ENVELOPE_BINARY : 0);
  }

  static Envelopes fromBits(int bits) {
    return new Envelopes((bits & Native.ENVELOPE_JSON) != 0, (bits & Native.ENVELOPE_BINARY) != 0);
  }
}
