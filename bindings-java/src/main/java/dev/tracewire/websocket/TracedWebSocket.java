package dev.tracewire.websocket;

import dev.tracewire.ClientHandshake;
import dev.tracewire.ConnectionModel;
import dev.tracewire.ConnectionTracer;
import dev.tracewire.Envelopes;
import dev.tracewire.MessageCodec;
import dev.tracewire.MessageType;
import dev.tracewire.Received;
import dev.tracewire.Target;
import dev.tracewire.TraceContext;
import dev.tracewire.TracingModel;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A traced client on the JDK's {@link java.net.http.WebSocket}: the {@code connect} span, the
 * handshake headers ({@code traceparent}, {@code tracestate}, {@code baggage}, the envelope
 * offer and the session id, through {@link WebSocket.Builder#header}), a {@code send} span per
 * message with the context in its envelope, and a {@code process} span per received message,
 * current while the {@link Listener} runs.
 *
 * <p>The JDK client cannot read the {@code 101} response headers, so it cannot see which
 * envelopes the server accepted (the same position as a browser, docs/PROTOCOL.md section 3.4):
 * it sends envelopes only when configured with {@link Builder#assumeAccepted}, for servers known
 * to accept them; received frames are decoded with the envelopes it offered (a tracewire server
 * only sends envelopes the client offered).
 *
 * <pre>{@code
 * TracedWebSocket ws = TracedWebSocket.builder(HttpClient.newHttpClient())
 *     .offer(Envelopes.ALL).assumeAccepted(Envelopes.ALL)
 *     .connect(URI.create("ws://127.0.0.1:8025/chat"), new TracedWebSocket.Listener() {
 *       public void onText(TracedWebSocket ws, Received msg) { ... msg.text() ... }
 *     }).join();
 * ws.sendText("{\"text\":\"hi\"}").join();
 * }</pre>
 */
public final class TracedWebSocket {
  /** Callbacks for a traced connection; each runs with the message's process span current. */
  public interface Listener {
    /** The connection is open. */
    default void onOpen(TracedWebSocket ws) {}

    /** A whole text message was received (the process span ends when this returns). */
    default void onText(TracedWebSocket ws, Received message) {}

    /** A whole binary message was received (the process span ends when this returns). */
    default void onBinary(TracedWebSocket ws, Received message) {}

    /** The server closed the connection (after the close was recorded). */
    default void onClose(TracedWebSocket ws, int statusCode, String reason) {}

    /** The connection failed (recorded as an abnormal close, 1006). */
    default void onError(TracedWebSocket ws, Throwable error) {}
  }

  /** Builds a traced connection. */
  public static final class Builder {
    private final HttpClient client;
    private Tracer tracer;
    private TracingModel model = TracingModel.CONNECTION;
    private Envelopes offer = Envelopes.ALL;
    private Envelopes assume = Envelopes.NONE;
    private String jsonPath = "";
    private boolean stripEnvelope = MessageCodec.stripByDefault();
    private final Map<String, String> headers = new LinkedHashMap<>();

    private Builder(HttpClient client) {
      this.client = Objects.requireNonNull(client, "client");
    }

    /** The tracer (default: the global tracer). */
    public Builder tracer(Tracer tracer) {
      this.tracer = tracer;
      return this;
    }

    /** The tracing model (default {@code connection}). */
    public Builder model(TracingModel model) {
      this.model = Objects.requireNonNull(model);
      return this;
    }

    /** The envelopes offered in {@code tracewire-envelope} (default both). */
    public Builder offer(Envelopes offer) {
      this.offer = Objects.requireNonNull(offer);
      return this;
    }

    /**
     * The envelopes to send without seeing the server's answer (default none). Only for servers
     * known to accept them; intersected with the offer.
     */
    public Builder assumeAccepted(Envelopes accepted) {
      this.assume = Objects.requireNonNull(accepted);
      return this;
    }

    /** The JSON envelope's member path (default top level). */
    public Builder jsonPath(String path) {
      this.jsonPath = path == null ? "" : path;
      return this;
    }

    /**
     * Whether received JSON payloads lose their envelope members (default: the core's, {@link
     * MessageCodec#stripByDefault()}: the listener sees what the server wrote, as in every
     * tracewire language).
     */
    public Builder stripEnvelope(boolean strip) {
      this.stripEnvelope = strip;
      return this;
    }

    /** An extra request header. */
    public Builder header(String name, String value) {
      headers.put(name, value);
      return this;
    }

    /**
     * Opens the connection: starts the {@code connect} span under the current context and
     * sends the handshake headers. The future fails if the handshake does (the span records
     * it).
     *
     * @throws dev.tracewire.TracewireException {@code invalid_url} when {@code uri} is not a
     *     {@code ws} or {@code wss} URL
     */
    public CompletableFuture<TracedWebSocket> connect(URI uri, Listener listener) {
      Tracer t = tracer != null ? tracer : ConnectionTracer.globalTracer();
      ClientHandshake hs = new ClientHandshake(offer);
      ConnectionModel m =
          new ConnectionModel(
              model, ConnectionModel.Role.CLIENT, hs.sessionId(), Target.fromUrl(uri.toString()));
      ConnectionTracer ct = new ConnectionTracer(t, m);
      Span connect = ct.open(null);
      TracedWebSocket traced =
          new TracedWebSocket(
              ct, hs, new Envelopes(assume.json() && offer.json(), assume.binary() && offer.binary()),
              jsonPath, stripEnvelope, listener);
      WebSocket.Builder b = client.newWebSocketBuilder();
      headers.forEach(b::header);
      hs.requestHeaders(TraceContext.fromContext(ct.connectionContext())).forEach(b::header);
      return b.buildAsync(uri, traced.new Inner())
          .handle(
              (ws, err) -> {
                if (err != null) {
                  ct.fail(err);
                  traced.closeCodecs();
                  throw new java.util.concurrent.CompletionException(err);
                }
                traced.ws = ws;
                ct.upgraded();
                return traced;
              });
    }
  }

  private final ConnectionTracer tracer;
  private final ClientHandshake handshake;
  private final MessageCodec sendCodec;
  private final MessageCodec receiveCodec;
  private final Listener listener;
  private volatile WebSocket ws;
  private CompletableFuture<?> sendChain = CompletableFuture.completedFuture(null);
  private volatile boolean closed;

  private TracedWebSocket(
      ConnectionTracer tracer,
      ClientHandshake hs,
      Envelopes send,
      String jsonPath,
      boolean stripEnvelope,
      Listener listener) {
    this.tracer = tracer;
    this.handshake = hs;
    this.sendCodec = new MessageCodec(send, jsonPath, stripEnvelope);
    this.receiveCodec = new MessageCodec(hs.offered(), jsonPath, stripEnvelope);
    this.listener = listener != null ? listener : new Listener() {};
  }

  /** A builder on {@code client}. */
  public static Builder builder(HttpClient client) {
    return new Builder(client);
  }

  /** The session id sent to the server. */
  public String sessionId() {
    return handshake.sessionId();
  }

  /** The envelopes this client sends. */
  public Envelopes sendEnvelopes() {
    return sendCodec.envelopes();
  }

  /** The connection's tracer. */
  public ConnectionTracer tracer() {
    return tracer;
  }

  /** The underlying JDK WebSocket. */
  public WebSocket webSocket() {
    return ws;
  }

  /** Sends a text message in a {@code send} span (under the current context). */
  public CompletableFuture<TracedWebSocket> sendText(String text) {
    Context ctx = tracer.sendContext(MessageType.TEXT, text.getBytes(StandardCharsets.UTF_8).length);
    Span span = Span.fromContext(ctx);
    String frame;
    try (Scope ignored = ctx.makeCurrent()) {
      frame = sendCodec.encodeText(text, ctx);
    }
    return send(span, w -> w.sendText(frame, true));
  }

  /** Sends a binary message in a {@code send} span (under the current context). */
  public CompletableFuture<TracedWebSocket> sendBinary(ByteBuffer data) {
    Context ctx = tracer.sendContext(MessageType.BINARY, data.remaining());
    Span span = Span.fromContext(ctx);
    ByteBuffer frame;
    try (Scope ignored = ctx.makeCurrent()) {
      frame = sendCodec.encodeBinary(data, ctx);
    }
    return send(span, w -> w.sendBinary(frame, true));
  }

  /** Sends a close frame; the close is recorded when the server's close arrives. */
  public CompletableFuture<TracedWebSocket> close(int statusCode, String reason) {
    return chain(w -> w.sendClose(statusCode, reason)).thenApply(w -> this);
  }

  private CompletableFuture<TracedWebSocket> send(
      Span span, java.util.function.Function<WebSocket, CompletableFuture<WebSocket>> op) {
    return chain(op)
        .handle(
            (w, err) -> {
              if (err != null) {
                span.recordException(err);
                span.setStatus(StatusCode.ERROR);
              }
              span.end();
              if (err != null) {
                throw new java.util.concurrent.CompletionException(err);
              }
              return this;
            });
  }

  // The JDK WebSocket allows one outstanding send: chain them.
  private synchronized CompletableFuture<WebSocket> chain(
      java.util.function.Function<WebSocket, CompletableFuture<WebSocket>> op) {
    CompletableFuture<WebSocket> next = sendChain.handle((x, e) -> ws).thenCompose(op);
    sendChain = next;
    return next;
  }

  private void recordClose(Integer code, String reason) {
    if (!closed) {
      closed = true;
      try {
        tracer.close(code, reason);
      } finally {
        closeCodecs();
      }
    }
  }

  private void closeCodecs() {
    sendCodec.close();
    receiveCodec.close();
  }

  private final class Inner implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();
    private final ByteArrayOutputStream binary = new ByteArrayOutputStream();

    @Override
    public void onOpen(WebSocket webSocket) {
      ws = webSocket;
      listener.onOpen(TracedWebSocket.this);
      webSocket.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        String message = text.toString();
        text.setLength(0);
        try (Received r = Received.start(tracer, receiveCodec.decodeText(message), MessageType.TEXT)) {
          listener.onText(TracedWebSocket.this, r);
        }
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      byte[] b = new byte[data.remaining()];
      data.get(b);
      binary.write(b, 0, b.length);
      if (last) {
        ByteBuffer message = ByteBuffer.wrap(binary.toByteArray());
        binary.reset();
        try (Received r =
            Received.start(tracer, receiveCodec.decodeBinary(message), MessageType.BINARY)) {
          listener.onBinary(TracedWebSocket.this, r);
        }
      }
      webSocket.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      // The JDK reports a close frame without a status as 1005, which is recorded as such.
      recordClose(statusCode, reason);
      listener.onClose(TracedWebSocket.this, statusCode, reason);
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      recordClose(null, "");
      listener.onError(TracedWebSocket.this, error);
    }
  }
}
