package dev.tracewire;

/** The type of a WebSocket data frame. */
public enum MessageType {
  /** A UTF-8 text frame. */
  TEXT,
  /** A binary frame. */
  BINARY
}
