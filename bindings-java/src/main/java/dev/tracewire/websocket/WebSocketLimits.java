package dev.tracewire.websocket;

import dev.tracewire.internal.Native;
import java.time.Duration;

/**
 * The default WebSocket limits of the traced client and server, decided in core ({@code
 * tracewire::limits}; docs/PROTOCOL.md section 11.1 gives the reasons). Each is settable on the
 * endpoint: {@link TracedWebSocket.Builder#maxMessageSize}, {@link
 * TracedWebSocket.Builder#handshakeTimeout}, {@link TracingConfigurator#maxMessageSize(int)}.
 */
public final class WebSocketLimits {
  /** Largest message received, in bytes: 1 MiB. Over it the connection closes with 1009. */
  public static final int MAX_MESSAGE_SIZE = Native.WS_MAX_MESSAGE_SIZE;

  /** Largest frame received, in bytes: 1 MiB, equal to the message limit. */
  public static final int MAX_FRAME_SIZE = Native.WS_MAX_FRAME_SIZE;

  /** Write buffer, in bytes: 128 KiB (frames gathered before a socket write, in core's ws). */
  public static final int WRITE_BUFFER_SIZE = Native.WS_WRITE_BUFFER_SIZE;

  /** Most bytes queued for sending, in bytes: 4 MiB; past it a send fails. */
  public static final int MAX_WRITE_BUFFER_SIZE = Native.WS_MAX_WRITE_BUFFER_SIZE;

  /** Longest opening handshake: 10 s, TCP connect included. */
  public static final Duration HANDSHAKE_TIMEOUT =
      Duration.ofMillis(Native.WS_HANDSHAKE_TIMEOUT_MILLIS);

  private WebSocketLimits() {}
}
