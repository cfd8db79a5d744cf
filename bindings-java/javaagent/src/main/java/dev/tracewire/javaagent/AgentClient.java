package dev.tracewire.javaagent;

import dev.tracewire.Received;
import dev.tracewire.websocket.Outgoing;
import dev.tracewire.websocket.TracedWebSocket;
import java.net.URI;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;

/**
 * The JDK {@code java.net.http.WebSocket} client, on the binding's {@link TracedWebSocket}: {@code
 * buildAsync} connects through it on the application's own builder, the application's listener
 * gets whole messages without the envelope, and its whole-message sends get a send span and the
 * envelope the server selected.
 */
public final class AgentClient {
  // The application's own subprotocols per builder (TracedWebSocket offers them composed).
  private static final Map<Object, List<String>> OWN_PROTOCOLS =
      Collections.synchronizedMap(new WeakHashMap<>());
  // The traced connection of each socket the application holds.
  private static final Map<WebSocket, TracedWebSocket> SOCKETS =
      Collections.synchronizedMap(new WeakHashMap<>());
  // Sockets in the middle of a fragmented send: its fragments pass as they are.
  private static final Set<WebSocket> FRAGMENTING =
      Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

  // Set while connect runs: TracedWebSocket's own calls on the builder pass as they are.
  private static final ThreadLocal<Boolean> CONNECTING = new ThreadLocal<>();

  private AgentClient() {}

  /** Whether this thread is in {@link #connect}. */
  public static boolean connecting() {
    return CONNECTING.get() != null;
  }

  /** The application's {@code subprotocols(first, rest...)} on {@code builder}. */
  public static void subprotocols(Object builder, String first, String[] rest) {
    if (connecting()) {
      return;
    }
    List<String> all = new ArrayList<>();
    all.add(first);
    Collections.addAll(all, rest);
    OWN_PROTOCOLS.put(builder, List.copyOf(all));
  }

  /** Connects through {@link TracedWebSocket}; null when tracing is off (invalid settings). */
  public static CompletableFuture<WebSocket> connect(
      WebSocket.Builder builder, URI uri, WebSocket.Listener listener) {
    Settings s = Settings.get();
    if (s == null) {
      return null;
    }
    List<String> own = OWN_PROTOCOLS.remove(builder);
    TracedWebSocket.Builder b =
        TracedWebSocket.builder(builder)
            .model(s.model())
            .trust(s.trust())
            .jsonPath(s.jsonPath())
            .stripEnvelope(s.stripEnvelope())
            .mcp(s.mcp())
            .maxMessageSize(s.maxMessageSize());
    if (own != null) {
      b.subprotocols(own.toArray(String[]::new));
    }
    CONNECTING.set(Boolean.TRUE);
    try {
      return b.connect(uri, new Adapter(listener)).thenApply(TracedWebSocket::webSocket);
    } finally {
      CONNECTING.remove();
    }
  }

  /**
   * What {@code getSubprotocol()} tells the application: its own subprotocol as agreed (not the
   * tracewire token that carried it), {@code ""} for none; {@code raw} for sockets not traced.
   */
  public static String subprotocol(WebSocket ws, String raw) {
    TracedWebSocket t = SOCKETS.get(ws);
    if (t == null) {
      return raw;
    }
    return t.subprotocol() == null ? "" : t.subprotocol();
  }

  /** A whole-message send on a traced socket: the span and the frame; null to pass as it is. */
  public static Outgoing<?> send(WebSocket ws, Object data, boolean last) {
    TracedWebSocket t = SOCKETS.get(ws);
    if (t == null) {
      return null;
    }
    if (!last) {
      FRAGMENTING.add(ws);
      return null;
    }
    if (FRAGMENTING.remove(ws)) {
      return null;
    }
    if (data instanceof CharSequence text) {
      return t.prepareText(text.toString());
    }
    if (data instanceof ByteBuffer b) {
      return t.prepareBinary(b);
    }
    return null;
  }

  /** The application's listener behind the traced connection. */
  private static final class Adapter implements TracedWebSocket.Listener {
    private final WebSocket.Listener app;

    Adapter(WebSocket.Listener app) {
      this.app = app;
    }

    @Override
    public void onOpen(TracedWebSocket ws) {
      SOCKETS.put(ws.webSocket(), ws);
      app.onOpen(ws.webSocket());
    }

    @Override
    public void onText(TracedWebSocket ws, Received message) {
      app.onText(ws.webSocket(), message.text(), true);
    }

    @Override
    public void onBinary(TracedWebSocket ws, Received message) {
      ByteBuffer data = message.data();
      ByteBuffer copy = ByteBuffer.allocate(data.remaining()).put(data).flip();
      app.onBinary(ws.webSocket(), copy, true);
    }

    @Override
    public void onClose(TracedWebSocket ws, int statusCode, String reason) {
      SOCKETS.remove(ws.webSocket());
      app.onClose(ws.webSocket(), statusCode, reason);
    }

    @Override
    public void onError(TracedWebSocket ws, Throwable error) {
      WebSocket w = ws.webSocket();
      if (w != null) {
        SOCKETS.remove(w);
      }
      app.onError(w, error);
    }
  }
}
