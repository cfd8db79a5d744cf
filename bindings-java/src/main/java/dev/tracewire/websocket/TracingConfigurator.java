package dev.tracewire.websocket;

import dev.tracewire.ConnectionTracer;
import dev.tracewire.Envelopes;
import dev.tracewire.MessageCodec;
import dev.tracewire.ServerHandshake;
import dev.tracewire.Target;
import dev.tracewire.TracingModel;
import dev.tracewire.Trust;
import io.opentelemetry.api.trace.Tracer;
import jakarta.websocket.HandshakeResponse;
import jakarta.websocket.Session;
import jakarta.websocket.server.HandshakeRequest;
import jakarta.websocket.server.ServerEndpointConfig;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Jakarta WebSocket configurator that reads the trace context and the session id from the
 * upgrade request (headers, else query parameters: browsers cannot set headers), selects the
 * subprotocol (the core's choice among the client's offer, the envelopes supported and the
 * endpoint's own subprotocols, {@link ServerEndpointConfig#getSubprotocols}), and hands the
 * result to the endpoint through the session's user properties (Jakarta WebSocket 2.1+, where
 * they are per connection). The endpoint sees its own subprotocol in {@link
 * TracedSession#subprotocol()}. Use with {@link TracedSession#open} in {@code @OnOpen}:
 *
 * <pre>{@code
 * @ServerEndpoint(value = "/chat", configurator = TracingConfigurator.class)
 * public class Chat {
 *   @OnOpen public void open(Session s) { TracedSession.open(s); }
 *   @OnMessage public void text(Session s, String msg) throws IOException {
 *     TracedSession t = TracedSession.of(s);
 *     try (Received r = t.receiveText(msg)) { t.sendText(reply(r.text())); }
 *   }
 *   @OnClose public void close(Session s, CloseReason r) { TracedSession.of(s).close(r); }
 * }
 * }</pre>
 *
 * <p>The no-argument constructor (for annotations) uses the global tracer, the model named by
 * the system property {@code tracewire.model} or the environment variable {@code
 * TRACEWIRE_MODEL} (default {@code connection}), both envelopes, and the JSON envelope object at
 * the member {@code tracewire}, its W3C members removed from received payloads (the application sees what the client wrote). Subclass and override the accessors, or use the other constructor with programmatic endpoint
 * configuration.
 *
 * <p>Limits: {@link TracedSession#open} sets the session's largest text and binary message
 * ({@link Session#setMaxTextMessageBufferSize}, {@link Session#setMaxBinaryMessageBufferSize})
 * to {@link #maxMessageSize()}, by default the core's {@link WebSocketLimits#MAX_MESSAGE_SIZE}
 * (1 MiB, docs/PROTOCOL.md section 11.1); the container refuses a larger message with {@code
 * 1009}. Set another with {@link #maxMessageSize(int)} or by overriding {@link
 * #maxMessageSize()}. The handshake timeout and write buffers are the container's settings.
 */
public class TracingConfigurator extends ServerEndpointConfig.Configurator {
  /** User property holding the {@link ServerHandshake} of the connection. */
  public static final String HANDSHAKE_PROPERTY = "dev.tracewire.handshake";
  /** User property holding the configurator (for the settings). */
  public static final String CONFIGURATOR_PROPERTY = "dev.tracewire.configurator";
  /** User property holding the {@link Target} of the connection (address, port, path). */
  public static final String TARGET_PROPERTY = "dev.tracewire.target";

  private static final String SUBPROTOCOL_HEADER = "Sec-WebSocket-Protocol";
  // Set when the container asked getNegotiatedSubprotocol during the handshake on this thread:
  // it then answers the header itself, and Tomcat would send the one modifyHandshake adds too.
  private static final ThreadLocal<Boolean> ASKED = new ThreadLocal<>();

  private final Tracer tracer;
  private final TracingModel model;
  private final Envelopes supported;
  private final String jsonPath;
  private final boolean stripEnvelope;
  private volatile int maxMessageSize = WebSocketLimits.MAX_MESSAGE_SIZE;
  private volatile Trust trust = Trust.trusted();
  private volatile boolean mcp;

  /** Defaults (see the class docs). */
  public TracingConfigurator() {
    this(null, null, Envelopes.ALL, "");
  }

  /**
   * Explicit settings; received JSON payloads lose their envelope's W3C members.
   *
   * @param tracer the tracer for spans (null: the global tracer, looked up per connection)
   * @param model the tracing model (null: from {@code tracewire.model} / {@code TRACEWIRE_MODEL})
   * @param supported the envelopes this server supports
   * @param jsonPath the JSON envelope object's member path ({@code ""}: the member {@code
   *     tracewire})
   */
  public TracingConfigurator(Tracer tracer, TracingModel model, Envelopes supported, String jsonPath) {
    this(tracer, model, supported, jsonPath, MessageCodec.stripByDefault());
  }

  /**
   * Explicit settings.
   *
   * @param tracer the tracer for spans (null: the global tracer, looked up per connection)
   * @param model the tracing model (null: from {@code tracewire.model} / {@code TRACEWIRE_MODEL})
   * @param supported the envelopes this server supports
   * @param jsonPath the JSON envelope object's member path ({@code ""}: the member {@code
   *     tracewire})
   * @param stripEnvelope whether received JSON payloads lose their envelope's W3C members ({@code
   *     false} hands them to the application as they arrived)
   */
  public TracingConfigurator(
      Tracer tracer, TracingModel model, Envelopes supported, String jsonPath, boolean stripEnvelope) {
    this.tracer = tracer;
    this.model = model;
    this.supported = supported;
    this.jsonPath = jsonPath == null ? "" : jsonPath;
    this.stripEnvelope = stripEnvelope;
  }

  /** The tracer for this server's spans. */
  public Tracer tracer() {
    return tracer != null ? tracer : ConnectionTracer.globalTracer();
  }

  /** The tracing model. */
  public TracingModel model() {
    if (model != null) {
      return model;
    }
    String m = System.getProperty("tracewire.model");
    if (m == null) {
      m = System.getenv("TRACEWIRE_MODEL");
    }
    return m == null || m.isBlank() ? TracingModel.CONNECTION : TracingModel.parse(m);
  }

  /** The envelopes this server supports. */
  public Envelopes supportedEnvelopes() {
    return supported;
  }

  /** The JSON envelope object's member path. */
  public String jsonPath() {
    return jsonPath;
  }

  /**
   * Whether sessions use MCP / JSON-RPC mode (default off; see {@link #mcp(boolean)}).
   */
  public boolean isMcp() {
    return mcp;
  }

  /**
   * Selects MCP / JSON-RPC mode: the context in {@code params._meta} of requests and
   * notifications and {@code result._meta} of results, read and written on every text frame
   * whatever the handshake negotiated, as MCP clients do ({@link #jsonPath()} is then ignored).
   *
   * @return this configurator
   */
  public TracingConfigurator mcp(boolean mcp) {
    this.mcp = mcp;
    return this;
  }

  /**
   * Whether received JSON payloads lose their envelope members (default: the core's, {@link
   * MessageCodec#stripByDefault()}, the same in every tracewire language).
   */
  public boolean stripEnvelope() {
    return stripEnvelope;
  }

  /**
   * The largest text or binary message a traced session accepts, in bytes (text: in
   * characters, as Jakarta counts them). Default: the core's {@link
   * WebSocketLimits#MAX_MESSAGE_SIZE}.
   */
  public int maxMessageSize() {
    return maxMessageSize;
  }

  /**
   * Sets the largest message a traced session accepts (see {@link #maxMessageSize()}); raise it
   * on both sides for peers that must carry larger messages.
   *
   * @return this configurator
   * @throws IllegalArgumentException when {@code bytes} is not positive
   */
  public TracingConfigurator maxMessageSize(int bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("maxMessageSize must be positive: " + bytes);
    }
    this.maxMessageSize = bytes;
    return this;
  }

  /** How far clients are trusted (default: {@link Trust#trusted()}). */
  public Trust trust() {
    return trust;
  }

  /**
   * Sets how far clients are trusted: a server on the internet sets {@link Trust#untrusted()},
   * so a client's context is only linked, its baggage dropped, its session id replaced and its
   * messages' process spans capped (docs/PROTOCOL.md section 12).
   *
   * @return this configurator
   */
  public TracingConfigurator trust(Trust trust) {
    this.trust = Objects.requireNonNull(trust, "trust");
    return this;
  }

  private static String host(HandshakeRequest request) {
    for (Map.Entry<String, List<String>> e : request.getHeaders().entrySet()) {
      if ("host".equalsIgnoreCase(e.getKey()) && e.getValue() != null && !e.getValue().isEmpty()) {
        return e.getValue().get(0);
      }
    }
    return null;
  }

  /**
   * The core's selection among the client's offer {@code requested}: a tracewire token for the
   * supported envelopes, composed with one of the endpoint's subprotocols {@code supported} or
   * alone, or one of those; {@code ""} for none.
   */
  @Override
  public String getNegotiatedSubprotocol(List<String> supported, List<String> requested) {
    ASKED.set(Boolean.TRUE);
    ServerHandshake hs =
        ServerHandshake.fromRequestPairs(
            List.of(Map.entry(SUBPROTOCOL_HEADER, String.join(", ", requested))),
            null,
            supportedEnvelopes(),
            supported);
    return hs.subprotocol() == null ? "" : hs.subprotocol();
  }

  @Override
  public void modifyHandshake(
      ServerEndpointConfig sec, HandshakeRequest request, HandshakeResponse response) {
    super.modifyHandshake(sec, request, response);
    traceHandshake(sec, request, response);
  }

  /**
   * What {@link #modifyHandshake} adds to the container's handshake: reads the client's context
   * and session id, answers the selected subprotocol, and leaves the result in the connection's
   * user properties for {@link TracedSession#open}. For code that sees a handshake without being
   * its configurator (the OpenTelemetry Java agent extension).
   */
  public void traceHandshake(
      ServerEndpointConfig sec, HandshakeRequest request, HandshakeResponse response) {
    ServerHandshake hs =
        ServerHandshake.fromRequest(
            request.getHeaders(), request.getQueryString(), supportedEnvelopes(), sec.getSubprotocols());
    // The same selection as getNegotiatedSubprotocol (the container calls that one only when
    // the client offered subprotocols); answered here too when it was not asked.
    boolean asked = ASKED.get() != null;
    ASKED.remove();
    if (!asked) {
      Map<String, List<String>> out = response.getHeaders();
      out.keySet().removeIf(SUBPROTOCOL_HEADER::equalsIgnoreCase);
      if (hs.subprotocol() != null) {
        out.put(SUBPROTOCOL_HEADER, List.of(hs.subprotocol()));
      }
    }
    sec.getUserProperties().put(HANDSHAKE_PROPERTY, hs);
    // The scheme is unknown here (TLS may end before this server), as the core allows.
    URI uri = request.getRequestURI();
    sec.getUserProperties()
        .put(TARGET_PROPERTY, Target.fromRequest(null, host(request), uri == null ? "" : uri.toString()));
    sec.getUserProperties().put(CONFIGURATOR_PROPERTY, this);
  }
}
