package dev.tracewire.websocket;

import dev.tracewire.ConnectionModel;
import dev.tracewire.ConnectionTracer;
import dev.tracewire.Envelopes;
import dev.tracewire.MessageCodec;
import dev.tracewire.MessageType;
import dev.tracewire.Received;
import dev.tracewire.ServerHandshake;
import dev.tracewire.Target;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import jakarta.websocket.CloseReason;
import jakarta.websocket.Session;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The tracing state of one server-side Jakarta WebSocket session: the handshake read by {@link
 * TracingConfigurator}, the connection span, and helpers for {@code @OnMessage}, sending and
 * {@code @OnClose} that create spans as the core's tracing model decides and carry the context
 * in the negotiated envelopes. Thread-safe (sends are serialised on the session).
 */
public final class TracedSession {
  private static final String PROPERTY = TracedSession.class.getName();

  private final Session session;
  private final ServerHandshake handshake;
  private final ConnectionTracer tracer;
  private final MessageCodec codec;
  private final int maxMessageSize;

  private TracedSession(Session session, ServerHandshake hs, TracingConfigurator conf) {
    this.session = session;
    this.handshake = hs;
    Object t = session.getUserProperties().get(TracingConfigurator.TARGET_PROPERTY);
    Target target;
    if (t instanceof Target known) {
      target = known;
    } else {
      URI uri = session.getRequestURI();
      target = Target.fromRequest(null, null, uri == null ? "" : uri.toString());
    }
    ConnectionModel model =
        new ConnectionModel(
            conf.model(), ConnectionModel.Role.SERVER, hs.sessionId(), target, conf.trust());
    this.tracer = new ConnectionTracer(conf.tracer(), model);
    this.codec =
        conf.isMcp()
            ? MessageCodec.mcp(hs.envelopes(), conf.stripEnvelope())
            : new MessageCodec(hs.envelopes(), conf.jsonPath(), conf.stripEnvelope());
    this.maxMessageSize = conf.maxMessageSize();
  }

  /**
   * Starts tracing a session in {@code @OnOpen}: the {@code accept} span under the client's
   * handshake context (ended here in the {@code message} model). Sets the session's largest
   * text and binary message to {@link TracingConfigurator#maxMessageSize()}.
   *
   * @throws IllegalStateException when the endpoint is not configured with {@link
   *     TracingConfigurator}
   */
  public static TracedSession open(Session session) {
    Object hs = session.getUserProperties().get(TracingConfigurator.HANDSHAKE_PROPERTY);
    Object conf = session.getUserProperties().get(TracingConfigurator.CONFIGURATOR_PROPERTY);
    if (!(hs instanceof ServerHandshake) || !(conf instanceof TracingConfigurator)) {
      throw new IllegalStateException(
          "tracewire: the endpoint must use TracingConfigurator (no handshake in the session)");
    }
    TracingConfigurator c = (TracingConfigurator) conf;
    // Before the first message is read: the container then refuses larger ones with 1009.
    session.setMaxTextMessageBufferSize(c.maxMessageSize());
    session.setMaxBinaryMessageBufferSize(c.maxMessageSize());
    TracedSession t = new TracedSession(session, (ServerHandshake) hs, c);
    t.tracer.open(t.handshake.context());
    t.tracer.upgraded();
    session.getUserProperties().put(PROPERTY, t);
    return t;
  }

  /** The tracing state of {@code session} (after {@link #open}). */
  public static TracedSession of(Session session) {
    Object t = session.getUserProperties().get(PROPERTY);
    if (!(t instanceof TracedSession)) {
      throw new IllegalStateException("tracewire: TracedSession.open was not called for this session");
    }
    return (TracedSession) t;
  }

  /** The handshake: the client's context, issues, envelopes and session id. */
  public ServerHandshake handshake() {
    return handshake;
  }

  /** The envelopes used on this connection. */
  public Envelopes envelopes() {
    return codec.envelopes();
  }

  /**
   * The application's subprotocol agreed in the handshake, by its own name ({@code mcp}, not the
   * tracewire token that carried it, which {@link Session#getNegotiatedSubprotocol} returns), or
   * null.
   */
  public String subprotocol() {
    return handshake().appProtocol();
  }

  /** The connection's tracer (for custom spans by the same decisions). */
  public ConnectionTracer tracer() {
    return tracer;
  }

  /** The connection span. */
  public Span connectionSpan() {
    return tracer.connectionSpan();
  }

  /** The Jakarta session. */
  public Session session() {
    return session;
  }

  /**
   * Decodes a received text message and starts its process span (current until closed).
   *
   * @throws IllegalArgumentException when the message is longer than {@link
   *     TracingConfigurator#maxMessageSize()} characters (a container may not check its limit on
   *     a message that arrives in one frame: Tyrus does not); the session is then closed with
   *     {@code 1009} and the message is not decoded
   */
  public Received receiveText(String message) {
    refuseOverLimit(message.length());
    return Received.start(tracer, codec.decodeText(message), MessageType.TEXT);
  }

  /**
   * Decodes a received binary message and starts its process span (current until closed).
   *
   * @throws IllegalArgumentException when the message is longer than {@link
   *     TracingConfigurator#maxMessageSize()} bytes; the session is then closed with {@code 1009}
   *     and the message is not decoded
   */
  public Received receiveBinary(ByteBuffer message) {
    refuseOverLimit(message.remaining());
    return Received.start(tracer, codec.decodeBinary(message), MessageType.BINARY);
  }

  private void refuseOverLimit(int size) {
    if (size > maxMessageSize) {
      try {
        session.close(new CloseReason(CloseReason.CloseCodes.TOO_BIG, "message too big"));
      } catch (IOException e) {
        // The connection is gone already; @OnClose / @OnError record how.
      }
      throw new IllegalArgumentException(
          "tracewire: a message of " + size + " over the limit of " + maxMessageSize
              + "; the session is closed with 1009");
    }
  }

  /** Sends a text message in a {@code send} span, with the JSON envelope when accepted. */
  public void sendText(String text) throws IOException {
    try (Outgoing<String> out = prepareText(text)) {
      try {
        synchronized (session) {
          session.getBasicRemote().sendText(out.frame());
        }
      } catch (IOException | RuntimeException e) {
        out.fail(e);
        throw e;
      }
    }
  }

  /** Sends a binary message in a {@code send} span, with the binary envelope when accepted. */
  public void sendBinary(ByteBuffer data) throws IOException {
    try (Outgoing<ByteBuffer> out = prepareBinary(data)) {
      try {
        synchronized (session) {
          session.getBasicRemote().sendBinary(out.frame());
        }
      } catch (IOException | RuntimeException e) {
        out.fail(e);
        throw e;
      }
    }
  }

  /**
   * Starts the {@code send} span of a text message and encodes it (the JSON envelope when
   * accepted), for code that writes the frame itself: {@link #sendText} does, and so does the
   * OpenTelemetry Java agent extension inside the container's own send. Close the result once the
   * frame is written.
   */
  public Outgoing<String> prepareText(String text) {
    Context ctx = tracer.sendContext(MessageType.TEXT, text.getBytes(StandardCharsets.UTF_8).length);
    return new Outgoing<>(ctx, () -> codec.encodeText(text, ctx));
  }

  /** {@link #prepareText} for a binary message (the binary envelope when accepted). */
  public Outgoing<ByteBuffer> prepareBinary(ByteBuffer data) {
    Context ctx = tracer.sendContext(MessageType.BINARY, data.remaining());
    return new Outgoing<>(ctx, () -> codec.encodeBinary(data, ctx));
  }

  /** Records the close in {@code @OnClose} (null reason: no close frame, recorded as 1006). */
  public void close(CloseReason reason) {
    try {
      if (reason == null) {
        tracer.close(null, "");
      } else {
        tracer.close(reason.getCloseCode().getCode(), reason.getReasonPhrase());
      }
    } finally {
      codec.close();
    }
  }

  /** Records an error in {@code @OnError} on the connection span (if still open). */
  public void error(Throwable error) {
    Span s = tracer.connectionSpan();
    if (s != null && s.isRecording()) {
      s.recordException(error);
    }
  }
}
