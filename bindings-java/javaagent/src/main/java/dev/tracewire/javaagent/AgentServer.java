package dev.tracewire.javaagent;

import dev.tracewire.Envelopes;
import dev.tracewire.Received;
import dev.tracewire.websocket.Outgoing;
import dev.tracewire.websocket.TracedSession;
import dev.tracewire.websocket.TracingConfigurator;
import jakarta.websocket.CloseReason;
import jakarta.websocket.HandshakeResponse;
import jakarta.websocket.Session;
import jakarta.websocket.server.HandshakeRequest;
import jakarta.websocket.server.ServerEndpointConfig;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * What the advice does, on the binding's API: the handshake through {@link
 * TracingConfigurator#traceHandshake}, the session through {@link TracedSession} (open, receive,
 * prepare a send, close). Only sessions whose handshake this extension traced are touched: an
 * endpoint that uses {@link TracingConfigurator} itself keeps its own tracing.
 */
public final class AgentServer {
  /** User property marking a connection whose handshake the extension traced. */
  static final String OWNED = "dev.tracewire.javaagent";
  private static final String API_CONFIGURATOR = TracingConfigurator.class.getName();
  private static final String SESSION_PROPERTY = TracedSession.class.getName();

  /** The settings as a configurator; null when they are invalid (nothing traced). */
  private static final TracingConfigurator CONFIGURATOR = configurator();

  // Handlers and remote endpoints know no session: found through these (weak both ways, as the
  // session holds its handlers and remotes).
  private static final Map<Object, WeakReference<TracedSession>> HANDLERS =
      Collections.synchronizedMap(new WeakHashMap<>());
  private static final Map<Object, WeakReference<TracedSession>> REMOTES =
      Collections.synchronizedMap(new WeakHashMap<>());

  private AgentServer() {}

  private static TracingConfigurator configurator() {
    Settings s = Settings.get();
    if (s == null) {
      return null;
    }
    TracingConfigurator conf =
        new TracingConfigurator(null, s.model(), Envelopes.ALL, s.jsonPath(), s.stripEnvelope());
    return conf.maxMessageSize(s.maxMessageSize()).trust(s.trust()).mcp(s.mcp());
  }

  /** Whether {@code configurator} is the application's own tracewire configurator. */
  private static boolean tracedByApplication(Object configurator) {
    for (Class<?> c = configurator.getClass(); c != null; c = c.getSuperclass()) {
      if (c.getName().equals(API_CONFIGURATOR)) {
        return true;
      }
    }
    return false;
  }

  /** After the endpoint's {@code modifyHandshake}: reads the context, answers the subprotocol. */
  public static void handshake(
      Object configurator,
      ServerEndpointConfig sec,
      HandshakeRequest request,
      HandshakeResponse response) {
    if (CONFIGURATOR == null || tracedByApplication(configurator)) {
      return;
    }
    CONFIGURATOR.traceHandshake(sec, request, response);
    sec.getUserProperties().put(OWNED, Boolean.TRUE);
  }

  /** The subprotocol to answer instead of {@code chosen}: the core's selection. */
  public static String subprotocol(
      Object configurator, List<String> supported, List<String> requested, String chosen) {
    if (CONFIGURATOR == null || tracedByApplication(configurator)) {
      return chosen;
    }
    return CONFIGURATOR.getNegotiatedSubprotocol(supported, requested);
  }

  private static TracedSession traced(Session session) {
    Map<String, Object> p = session.getUserProperties();
    return p.get(OWNED) == Boolean.TRUE && p.get(SESSION_PROPERTY) instanceof TracedSession t ? t : null;
  }

  /**
   * What {@code getNegotiatedSubprotocol()} tells the endpoint of a traced session: its own
   * subprotocol as agreed ({@code mcp}, not {@code tracewire.v1.json-binary+mcp}), {@code ""} for
   * none; {@code raw} otherwise.
   */
  public static String subprotocol(Session session, String raw) {
    TracedSession t = traced(session);
    if (t == null) {
      return raw;
    }
    return t.subprotocol() == null ? "" : t.subprotocol();
  }

  /** Before the endpoint's {@code onOpen}: the accept span; the session's remotes are known. */
  public static void open(Session session) {
    if (session.getUserProperties().get(OWNED) != Boolean.TRUE || traced(session) != null) {
      return;
    }
    TracedSession t = TracedSession.open(session);
    WeakReference<TracedSession> ref = new WeakReference<>(t);
    // Containers make a session's two remotes once; sends are found through them.
    REMOTES.put(session.getBasicRemote(), ref);
    REMOTES.put(session.getAsyncRemote(), ref);
  }

  /** A handler added to a traced session: its messages are decoded in {@link #receive}. */
  public static void handlerAdded(Session session, Object handler) {
    TracedSession t = traced(session);
    if (t != null && handler != null) {
      HANDLERS.put(handler, new WeakReference<>(t));
    }
  }

  private static TracedSession lookup(Map<Object, WeakReference<TracedSession>> map, Object key) {
    WeakReference<TracedSession> ref = map.get(key);
    return ref == null ? null : ref.get();
  }

  /**
   * A whole message arriving at {@code handler}: decoded, its process span started and current.
   * Null when the handler is not a traced session's or the message is not text or binary.
   */
  public static Received receive(Object handler, Object message) {
    TracedSession t = lookup(HANDLERS, handler);
    if (t == null) {
      return null;
    }
    if (message instanceof String s) {
      return t.receiveText(s);
    }
    if (message instanceof ByteBuffer b) {
      return t.receiveBinary(b.duplicate());
    }
    if (message instanceof byte[] a) {
      return t.receiveBinary(ByteBuffer.wrap(a));
    }
    return null;
  }

  /**
   * What the application's handler gets: the payload as the core decoded it (without the
   * envelope), in the type the handler takes.
   */
  public static Object payload(Received r, Object message) {
    if (message instanceof String) {
      return r.text();
    }
    ByteBuffer data = r.data();
    byte[] bytes = new byte[data.remaining()];
    data.get(bytes);
    return message instanceof byte[] ? bytes : ByteBuffer.wrap(bytes);
  }

  /** A send on a traced session's remote: the send span, and the frame with its envelope. */
  public static Outgoing<?> send(Object remote, Object message) {
    TracedSession t = lookup(REMOTES, remote);
    if (t == null) {
      return null;
    }
    if (message instanceof String s) {
      return t.prepareText(s);
    }
    if (message instanceof ByteBuffer b) {
      return t.prepareBinary(b);
    }
    return null;
  }

  /** After the endpoint's {@code onClose}: the close recorded, the connection span ended. */
  public static void close(Session session, CloseReason reason) {
    TracedSession t = traced(session);
    if (t != null) {
      session.getUserProperties().remove(SESSION_PROPERTY);
      t.close(reason);
    }
  }

  /** The endpoint's {@code onError}: recorded on the connection span. */
  public static void error(Session session, Throwable error) {
    TracedSession t = traced(session);
    if (t != null) {
      t.error(error);
    }
  }
}
