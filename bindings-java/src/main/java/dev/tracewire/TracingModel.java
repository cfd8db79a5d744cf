package dev.tracewire;

import dev.tracewire.internal.Native;

/**
 * How spans on a connection relate (docs/PROTOCOL.md section 7).
 */
public enum TracingModel {
  /**
   * One trace per connection: the connection span is the ancestor of every message span. Suits
   * short sessions.
   */
  CONNECTION,
  /**
   * One trace per request or stream, linked to the connection span and tagged with the session
   * id, and the connection span ends at the upgrade. Suits long-lived sockets.
   */
  MESSAGE;

  /**
   * Parses {@code connection} or {@code message} (case-insensitive, trimmed), as the core does.
   *
   * @throws TracewireException {@code invalid_argument} for anything else
   */
  public static TracingModel parse(String name) {
    // The core's code is the position in its table, which this enum mirrors.
    return values()[Native.modelParse(name)];
  }
}
