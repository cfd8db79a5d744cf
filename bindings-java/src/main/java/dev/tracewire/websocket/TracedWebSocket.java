package dev.tracewire.websocket;

import dev.tracewire.ClientHandshake;
import dev.tracewire.ConnectionModel;
import dev.tracewire.ConnectionTracer;
import dev.tracewire.Envelopes;
import dev.tracewire.Headers;
import dev.tracewire.MessageCodec;
import dev.tracewire.MessageType;
import dev.tracewire.Received;
import dev.tracewire.Target;
import dev.tracewire.TraceContext;
import dev.tracewire.TracingModel;
import dev.tracewire.Trust;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A traced client on the JDK's {@link java.net.http.WebSocket}: the {@code connect} span, the
 * handshake headers ({@code traceparent}, {@code tracestate}, {@code baggage} and the session id,
 * through {@link WebSocket.Builder#header}), the envelope offer as subprotocols (through {@link
 * WebSocket.Builder#subprotocols}, composed with the application's own, {@link
 * Builder#subprotocols}), a {@code send} span per message with the context in the envelope the
 * server selected, and a {@code process} span per received message, current while the {@link
 * Listener} runs. The envelopes are those the selected subprotocol names ({@link
 * WebSocket#getSubprotocol}): none with a server that does not know tracewire.
 *
 * <pre>{@code
 * TracedWebSocket ws = TracedWebSocket.builder(HttpClient.newHttpClient())
 *     .connect(URI.create("ws://127.0.0.1:8025/chat"), new TracedWebSocket.Listener() {
 *       public void onText(TracedWebSocket ws, Received msg) { ... msg.text() ... }
 *     }).join();
 * ws.sendText("{\"text\":\"hi\"}").join();
 * }</pre>
 *
 * <p>Limits (docs/PROTOCOL.md section 11.1; the defaults are the core's, {@link
 * WebSocketLimits}): a received message is counted as its fragments arrive, and one over {@link
 * Builder#maxMessageSize} (default 1 MiB, UTF-8 bytes for text) is dropped unbuffered and never
 * delivered; the close is recorded (and reported to {@link Listener#onClose}) as {@code 1009},
 * "message too big". The JDK client may not send 1009 itself, so its close frame carries {@code
 * 1008} (policy violation) with that reason; the socket is aborted if the server does not answer
 * it within the handshake timeout. The opening handshake, TCP connect included, fails
 * after {@link Builder#handshakeTimeout} (default 10 s) with {@link
 * java.net.http.HttpTimeoutException}. Sends not yet written hold at most {@link
 * Builder#maxQueuedSendBytes} (default 4 MiB); past it a send fails at once with {@link
 * java.io.IOException}. A listener that throws does not stop the connection: the exception is
 * recorded on the message's process span and the next message is requested.
 */
public final class TracedWebSocket {
  /** The close code recorded for a message over the limit (RFC 6455, 7.4.1). */
  private static final int MESSAGE_TOO_BIG = 1009;
  /** The close code sent for it: the nearest one the JDK client may send. */
  private static final int POLICY_VIOLATION = 1008;
  private static final String TOO_BIG_REASON = "message too big";

  /** Callbacks for a traced connection; each runs with the message's process span current. */
  public interface Listener {
    /** The connection is open. */
    default void onOpen(TracedWebSocket ws) {}

    /** A whole text message was received (the process span ends when this returns). */
    default void onText(TracedWebSocket ws, Received message) {}

    /** A whole binary message was received (the process span ends when this returns). */
    default void onBinary(TracedWebSocket ws, Received message) {}

    /**
     * The connection closed (after the close was recorded): the server's close, or {@code 1009}
     * when this client refused a message over its limit.
     */
    default void onClose(TracedWebSocket ws, int statusCode, String reason) {}

    /** The connection failed (recorded as an abnormal close, 1006). */
    default void onError(TracedWebSocket ws, Throwable error) {}
  }

  /** Builds a traced connection. */
  public static final class Builder {
    private final HttpClient client;
    /** The caller's JDK builder ({@link TracedWebSocket#builder(WebSocket.Builder)}), or null. */
    private final WebSocket.Builder jdkBuilder;
    private boolean handshakeTimeoutSet;
    private Tracer tracer;
    private TracingModel model = TracingModel.CONNECTION;
    private Envelopes offer = Envelopes.ALL;
    private List<String> appProtocols = List.of();
    private String jsonPath = "";
    private boolean mcp;
    private boolean stripEnvelope = MessageCodec.stripByDefault();
    private final Map<String, String> headers = new LinkedHashMap<>();
    private int maxMessageSize = WebSocketLimits.MAX_MESSAGE_SIZE;
    private Duration handshakeTimeout = WebSocketLimits.HANDSHAKE_TIMEOUT;
    private long maxQueuedSendBytes = WebSocketLimits.MAX_WRITE_BUFFER_SIZE;
    private Trust trust = Trust.trusted();

    private Builder(HttpClient client) {
      this.client = Objects.requireNonNull(client, "client");
      this.jdkBuilder = null;
    }

    private Builder(WebSocket.Builder jdkBuilder) {
      this.client = null;
      this.jdkBuilder = Objects.requireNonNull(jdkBuilder, "jdkBuilder");
    }

    /** The tracer (default: the global tracer). */
    public Builder tracer(Tracer tracer) {
      this.tracer = tracer;
      return this;
    }

    /**
     * How far the server is trusted (default {@link Trust#trusted()}): what the contexts of its
     * messages may do (docs/PROTOCOL.md section 12).
     */
    public Builder trust(Trust trust) {
      this.trust = Objects.requireNonNull(trust);
      return this;
    }

    /** The tracing model (default {@code connection}). */
    public Builder model(TracingModel model) {
      this.model = Objects.requireNonNull(model);
      return this;
    }

    /** The envelopes offered (default both). */
    public Builder offer(Envelopes offer) {
      this.offer = Objects.requireNonNull(offer);
      return this;
    }

    /**
     * The application's own subprotocols, in order of preference (default none): each is offered
     * composed with the tracewire tokens and alone, and {@link TracedWebSocket#subprotocol()} says
     * which one was agreed.
     */
    public Builder subprotocols(String... appProtocols) {
      this.appProtocols = List.of(appProtocols);
      return this;
    }

    /** The JSON envelope object's member path (default {@code ""}: the member {@code tracewire}). */
    public Builder jsonPath(String path) {
      this.jsonPath = path == null ? "" : path;
      return this;
    }

    /**
     * MCP / JSON-RPC mode (default off): the context in {@code params._meta} of requests and
     * notifications and {@code result._meta} of results, read and written on every text frame
     * whatever the server answered, as MCP peers do ({@link #jsonPath} is then ignored).
     */
    public Builder mcp(boolean mcp) {
      this.mcp = mcp;
      return this;
    }

    /**
     * Whether received JSON payloads lose their envelope's W3C members (default: the core's, {@link
     * MessageCodec#stripByDefault()}: the listener sees what the server wrote, as in every
     * tracewire language).
     */
    public Builder stripEnvelope(boolean strip) {
      this.stripEnvelope = strip;
      return this;
    }

    /**
     * The largest message received, in bytes (default {@link WebSocketLimits#MAX_MESSAGE_SIZE},
     * 1 MiB; text counted in UTF-8). A larger message is not delivered and closes the connection
     * with {@code 1009}. Raise it on both sides for peers that must carry larger messages.
     *
     * @throws IllegalArgumentException when {@code bytes} is not positive
     */
    public Builder maxMessageSize(int bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("maxMessageSize must be positive: " + bytes);
      }
      this.maxMessageSize = bytes;
      return this;
    }

    /**
     * The longest opening handshake, TCP connect included (default {@link
     * WebSocketLimits#HANDSHAKE_TIMEOUT}, 10 s); {@link #connect}'s future then fails with
     * {@link java.net.http.HttpTimeoutException}.
     *
     * @throws IllegalArgumentException when {@code timeout} is not positive
     */
    public Builder handshakeTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("handshakeTimeout must be positive: " + timeout);
      }
      this.handshakeTimeout = timeout;
      this.handshakeTimeoutSet = true;
      return this;
    }

    /**
     * The most bytes of sends not yet written (default {@link
     * WebSocketLimits#MAX_WRITE_BUFFER_SIZE}, 4 MiB); past it a send fails at once with {@link
     * java.io.IOException} instead of queueing without bound.
     *
     * @throws IllegalArgumentException when {@code bytes} is not positive
     */
    public Builder maxQueuedSendBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("maxQueuedSendBytes must be positive: " + bytes);
      }
      this.maxQueuedSendBytes = bytes;
      return this;
    }

    /** An extra request header. */
    public Builder header(String name, String value) {
      headers.put(name, value);
      return this;
    }

    /**
     * Opens the connection: starts the {@code connect} span under the current context and
     * sends the handshake headers and the subprotocol offer. The future fails if the handshake
     * does (the span records it).
     *
     * @throws dev.tracewire.TracewireException {@code invalid_url} when {@code uri} is not a
     *     {@code ws} or {@code wss} URL, {@code invalid_argument} for an application
     *     subprotocol that is not a token or starts with {@code tracewire.}
     */
    public CompletableFuture<TracedWebSocket> connect(URI uri, Listener listener) {
      Tracer t = tracer != null ? tracer : ConnectionTracer.globalTracer();
      ClientHandshake hs = new ClientHandshake(offer, Headers.newSessionId(), appProtocols);
      ConnectionModel m =
          new ConnectionModel(
              model,
              ConnectionModel.Role.CLIENT,
              hs.sessionId(),
              Target.fromUrl(uri.toString()),
              trust);
      ConnectionTracer ct = new ConnectionTracer(t, m);
      Span connect = ct.open(null);
      TracedWebSocket traced =
          new TracedWebSocket(
              ct, hs, jsonPath, mcp, stripEnvelope, listener, maxMessageSize, handshakeTimeout,
              maxQueuedSendBytes);
      WebSocket.Builder b = jdkBuilder != null ? jdkBuilder : client.newWebSocketBuilder();
      if (jdkBuilder == null || handshakeTimeoutSet) {
        b.connectTimeout(handshakeTimeout);
      }
      List<String> subprotocols = hs.subprotocols();
      if (!subprotocols.isEmpty()) {
        b.subprotocols(
            subprotocols.get(0), subprotocols.subList(1, subprotocols.size()).toArray(String[]::new));
      }
      headers.forEach(b::header);
      hs.requestHeaders(TraceContext.fromContext(ct.connectionContext())).forEach(b::header);
      // The connect span is current while the JDK opens the connection: an HTTP client
      // instrumentation (the OpenTelemetry Java agent's) nests under it.
      CompletableFuture<WebSocket> opening;
      try (Scope ignored = ct.connectionContext().makeCurrent()) {
        opening = b.buildAsync(uri, traced.new Inner());
      }
      return opening
          .handle(
              (ws, err) -> {
                if (err != null) {
                  // The JDK's own failure (HttpTimeoutException, ...) is the cause seen by callers.
                  Throwable cause =
                      err instanceof java.util.concurrent.CompletionException && err.getCause() != null
                          ? err.getCause()
                          : err;
                  ct.fail(cause);
                  traced.closeCodecs();
                  throw new java.util.concurrent.CompletionException(cause);
                }
                traced.ws = ws;
                ct.upgraded();
                return traced;
              });
    }
  }

  private final ConnectionTracer tracer;
  private final ClientHandshake handshake;
  private final String jsonPath;
  private final boolean mcp;
  private final boolean stripEnvelope;
  /** The codec for what the server selected: set when the connection opens. */
  private volatile MessageCodec codec;
  private volatile String appProtocol;
  private final Listener listener;
  private volatile WebSocket ws;
  private CompletableFuture<?> sendChain = CompletableFuture.completedFuture(null);
  private volatile boolean closed;
  private final int maxMessageSize;
  private final Duration closeTimeout;
  private final long maxQueuedSendBytes;
  private final AtomicLong queuedSendBytes = new AtomicLong();
  private final AtomicBoolean closeNotified = new AtomicBoolean();

  private TracedWebSocket(
      ConnectionTracer tracer,
      ClientHandshake hs,
      String jsonPath,
      boolean mcp,
      boolean stripEnvelope,
      Listener listener,
      int maxMessageSize,
      Duration closeTimeout,
      long maxQueuedSendBytes) {
    this.maxMessageSize = maxMessageSize;
    this.closeTimeout = closeTimeout;
    this.maxQueuedSendBytes = maxQueuedSendBytes;
    this.tracer = tracer;
    this.handshake = hs;
    this.jsonPath = jsonPath;
    this.mcp = mcp;
    this.stripEnvelope = stripEnvelope;
    this.listener = listener != null ? listener : new Listener() {};
  }

  /** A builder on {@code client}. */
  public static Builder builder(HttpClient client) {
    return new Builder(client);
  }

  /**
   * A builder on a JDK builder the caller configured (its headers and connect timeout are kept;
   * the handshake headers and the subprotocol offer are added to it, replacing its
   * subprotocols: give the application's own to {@link Builder#subprotocols}). {@link
   * Builder#handshakeTimeout}, when called, sets its connect timeout.
   */
  public static Builder builder(WebSocket.Builder jdkBuilder) {
    return new Builder(jdkBuilder);
  }

  /** The session id sent to the server. */
  public String sessionId() {
    return handshake.sessionId();
  }

  /** The envelopes used on this connection: those of the subprotocol the server selected. */
  public Envelopes envelopes() {
    MessageCodec c = codec;
    return c == null ? Envelopes.NONE : c.envelopes();
  }

  /**
   * The application's subprotocol agreed in the handshake, by its own name ({@code mcp}, not the
   * tracewire token that carried it, which {@link WebSocket#getSubprotocol} returns), or null.
   */
  public String subprotocol() {
    return appProtocol;
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
    Outgoing<String> out = prepareText(text);
    return send(out, utf8Length(out.frame()), w -> w.sendText(out.frame(), true));
  }

  /** Sends a binary message in a {@code send} span (under the current context). */
  public CompletableFuture<TracedWebSocket> sendBinary(ByteBuffer data) {
    Outgoing<ByteBuffer> out = prepareBinary(data);
    return send(out, out.frame().remaining(), w -> w.sendBinary(out.frame(), true));
  }

  /**
   * Starts the {@code send} span of a text message (under the current context) and encodes it
   * with the envelope the server selected, for code that writes the frame on {@link #webSocket()}
   * itself (the OpenTelemetry Java agent extension); close the result once it is written. {@link
   * #sendText} does both.
   */
  public Outgoing<String> prepareText(String text) {
    Context ctx = tracer.sendContext(MessageType.TEXT, text.getBytes(StandardCharsets.UTF_8).length);
    return new Outgoing<>(ctx, () -> codec.encodeText(text, ctx));
  }

  /** {@link #prepareText} for a binary message. */
  public Outgoing<ByteBuffer> prepareBinary(ByteBuffer data) {
    Context ctx = tracer.sendContext(MessageType.BINARY, data.remaining());
    return new Outgoing<>(ctx, () -> codec.encodeBinary(data, ctx));
  }

  /** Sends a close frame; the close is recorded when the server's close arrives. */
  public CompletableFuture<TracedWebSocket> close(int statusCode, String reason) {
    return chain(w -> w.sendClose(statusCode, reason)).thenApply(w -> this);
  }

  private CompletableFuture<TracedWebSocket> send(
      Outgoing<?> out, long size, java.util.function.Function<WebSocket, CompletableFuture<WebSocket>> op) {
    CompletableFuture<WebSocket> sent;
    if (queuedSendBytes.addAndGet(size) > maxQueuedSendBytes) {
      queuedSendBytes.addAndGet(-size);
      sent =
          CompletableFuture.failedFuture(
              new IOException(
                  "tracewire: more than " + maxQueuedSendBytes + " bytes of sends queued"));
    } else {
      sent = chain(op).whenComplete((w, e) -> queuedSendBytes.addAndGet(-size));
    }
    return sent
        .handle(
            (w, err) -> {
              if (err != null) {
                out.fail(err);
              }
              out.close();
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

  /** UTF-8 length of {@code s}, without encoding it. */
  private static long utf8Length(CharSequence s) {
    long n = 0;
    for (int i = 0, len = s.length(); i < len; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  /**
   * A message over the limit: the close is recorded as 1009 at once and the listener told so;
   * the close frame says 1008, as the JDK client may not send 1009 (it allows only 1000, 1001,
   * 1008, 1011 and 3000-4999). If the server does not answer in time, the socket is aborted.
   */
  private void refuseTooBig(WebSocket webSocket) {
    recordClose(MESSAGE_TOO_BIG, TOO_BIG_REASON);
    Runnable abort =
        () -> {
          if (!webSocket.isInputClosed()) {
            webSocket.abort();
            notifyClose(MESSAGE_TOO_BIG, TOO_BIG_REASON);
          }
        };
    chain(w -> w.sendClose(POLICY_VIOLATION, TOO_BIG_REASON))
        .whenComplete(
            (w, err) -> {
              if (err != null) {
                abort.run();
              } else {
                CompletableFuture.delayedExecutor(closeTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .execute(abort);
              }
            });
  }

  private void notifyClose(int statusCode, String reason) {
    if (closeNotified.compareAndSet(false, true)) {
      listener.onClose(this, statusCode, reason);
    }
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
    MessageCodec c = codec;
    if (c != null) {
      c.close();
    }
  }

  private final class Inner implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();
    private final ByteArrayOutputStream binary = new ByteArrayOutputStream();
    // Bytes of the message being reassembled; after a refusal, nothing more is buffered.
    private long size;
    private boolean refused;

    @Override
    public void onOpen(WebSocket webSocket) {
      ws = webSocket;
      // Called before any message: the codec is in place for every send and receive.
      ClientHandshake.Negotiated n = handshake.negotiated(webSocket.getSubprotocol());
      appProtocol = n.appProtocol();
      codec =
          mcp
              ? MessageCodec.mcp(n.envelopes(), stripEnvelope)
              : new MessageCodec(n.envelopes(), jsonPath, stripEnvelope);
      try {
        listener.onOpen(TracedWebSocket.this);
      } catch (RuntimeException e) {
        Span s = tracer.connectionSpan();
        if (s != null) {
          s.recordException(e);
        }
      } finally {
        webSocket.request(1);
      }
    }

    /** Counts a fragment; false (and the close started) when the message is over the limit. */
    private boolean admit(WebSocket webSocket, long fragment) {
      if (refused) {
        return false;
      }
      size += fragment;
      if (size > maxMessageSize) {
        refused = true;
        text.setLength(0);
        text.trimToSize();
        binary.reset();
        refuseTooBig(webSocket);
        return false;
      }
      return true;
    }

    @Override
    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
      try {
        if (admit(webSocket, utf8Length(data))) {
          text.append(data);
          if (last) {
            String message = text.toString();
            text.setLength(0);
            size = 0;
            try (Received r =
                Received.start(tracer, codec.decodeText(message), MessageType.TEXT)) {
              deliver(r, () -> listener.onText(TracedWebSocket.this, r));
            }
          }
        }
      } finally {
        webSocket.request(1);
      }
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      try {
        if (admit(webSocket, data.remaining())) {
          byte[] b = new byte[data.remaining()];
          data.get(b);
          binary.write(b, 0, b.length);
          if (last) {
            ByteBuffer message = ByteBuffer.wrap(binary.toByteArray());
            binary.reset();
            size = 0;
            try (Received r =
                Received.start(tracer, codec.decodeBinary(message), MessageType.BINARY)) {
              deliver(r, () -> listener.onBinary(TracedWebSocket.this, r));
            }
          }
        }
      } finally {
        webSocket.request(1);
      }
      return null;
    }

    /** Runs a listener callback; what it throws is recorded on the process span, not lost. */
    private void deliver(Received r, Runnable callback) {
      try {
        callback.run();
      } catch (RuntimeException e) {
        r.span().recordException(e);
        r.span().setStatus(StatusCode.ERROR);
      }
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      // The JDK reports a close frame without a status as 1005, which is recorded as such.
      recordClose(statusCode, reason);
      if (refused) {
        notifyClose(MESSAGE_TOO_BIG, TOO_BIG_REASON);
      } else {
        notifyClose(statusCode, reason);
      }
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      recordClose(null, "");
      listener.onError(TracedWebSocket.this, error);
    }
  }
}
