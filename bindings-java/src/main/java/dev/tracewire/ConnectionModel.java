package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.SpanKind;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The facts about one connection that every span decision depends on, and the decisions
 * themselves, made by the core's {@code model::Connection}: span names, kinds, parents, links
 * and attribute keys all come from the core. {@link ConnectionTracer} applies them with
 * opentelemetry-java. Immutable and thread-safe.
 */
public final class ConnectionModel {
  private static final SpanKind[] KINDS = {
    SpanKind.CLIENT, SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL
  };
  private static final SpanDecision.Source[] SOURCES = SpanDecision.Source.values();
  private static final SpanDecision.Source[] LINKS = {
    SpanDecision.Source.CONNECTION, SpanDecision.Source.REMOTE
  };
  private static final ConcurrentHashMap<String, AttributeKey<?>[]> KEYS = new ConcurrentHashMap<>();

  /** This end of the connection. */
  public enum Role {
    /** The side that sent the upgrade request. */
    CLIENT,
    /** The side that accepted it. */
    SERVER
  }

  private final TracingModel model;
  private final Role role;
  private final String sessionId;
  private final String urlPath;
  private final String serverAddress;
  private final int serverPort;
  private final String route;
  private final Trust trust;

  /**
   * A connection to or from {@code target} (see {@link Target#fromUrl} and {@link
   * Target#fromRequest}).
   *
   * @param model the tracing model
   * @param role this end
   * @param sessionId the session id both peers share
   * @param target the server address, port and URL path
   */
  public ConnectionModel(TracingModel model, Role role, String sessionId, Target target) {
    this(model, role, sessionId, target, Trust.trusted());
  }

  /**
   * A connection to or from {@code target} whose peer is trusted as far as {@code trust} says. A
   * server that does not trust its client as a parent records a session id of its own instead
   * of {@code sessionId}.
   *
   * @param model the tracing model
   * @param role this end
   * @param sessionId the session id the peer sent (server) or this side chose (client)
   * @param target the server address, port and URL path
   * @param trust how far the peer is trusted
   */
  public ConnectionModel(TracingModel model, Role role, String sessionId, Target target, Trust trust) {
    this(model, role, sessionId, target.path(), target.address(), target.port(), trust);
  }

  /**
   * A connection.
   *
   * @param model the tracing model
   * @param role this end
   * @param sessionId the session id both peers share
   * @param urlPath the URL path as the core gives it ({@link Target#path()})
   * @param serverAddress the URL host, or null when unknown
   * @param serverPort the URL port, or -1 when unknown
   */
  public ConnectionModel(
      TracingModel model,
      Role role,
      String sessionId,
      String urlPath,
      String serverAddress,
      int serverPort) {
    this(model, role, sessionId, urlPath, serverAddress, serverPort, Trust.trusted());
  }

  /**
   * A connection whose peer is trusted as far as {@code trust} says (see {@link
   * #ConnectionModel(TracingModel, Role, String, Target, Trust)}).
   */
  public ConnectionModel(
      TracingModel model,
      Role role,
      String sessionId,
      String urlPath,
      String serverAddress,
      int serverPort,
      Trust trust) {
    this.model = Objects.requireNonNull(model, "model");
    this.role = Objects.requireNonNull(role, "role");
    this.trust = Objects.requireNonNull(trust, "trust");
    Objects.requireNonNull(sessionId, "sessionId");
    this.sessionId = trust.sessionId(role, sessionId);
    this.urlPath = urlPath;
    this.serverAddress = serverAddress;
    this.serverPort = serverPort;
    this.route = "";
  }

  private ConnectionModel(ConnectionModel c, String route) {
    this.model = c.model;
    this.role = c.role;
    this.trust = c.trust;
    this.sessionId = c.sessionId;
    this.urlPath = c.urlPath;
    this.serverAddress = c.serverAddress;
    this.serverPort = c.serverPort;
    this.route = route;
  }

  /**
   * This connection with the route template the application matched (e.g. {@code /chat/{room}}
   * for {@code /chat/42}): span names use it instead of the raw path, whose cardinality is
   * unbounded, and it is recorded as {@code http.route} and {@code
   * messaging.destination.template}. Empty: none.
   *
   * @param route the route template
   * @return a new connection model
   */
  public ConnectionModel withRoute(String route) {
    return new ConnectionModel(this, Objects.requireNonNull(route, "route"));
  }

  /** The tracing model. */
  public TracingModel model() {
    return model;
  }

  /** This end of the connection. */
  public Role role() {
    return role;
  }

  /** The session id this side records. */
  public String sessionId() {
    return sessionId;
  }

  /** How far the peer is trusted. */
  public Trust trust() {
    return trust;
  }

  /** The connection span: {@code connect {path}} (client) or {@code accept {path}} (server). */
  public SpanDecision open() {
    try (Scratch s = Scratch.get()) {
      call(s, Native.MODEL_OPEN, MessageType.TEXT, 0, null, null);
      SpanDecision d = readSpan(s);
      return d;
    }
  }

  /** Whether the connection span ends when the upgrade completes (the {@code message} model). */
  public boolean connectionSpanEndsAtUpgrade() {
    try (Scratch s = Scratch.get()) {
      call(s, Native.MODEL_OPEN, MessageType.TEXT, 0, null, null);
      readSpan(s);
      return s.readU8() != 0;
    }
  }

  /** The span for sending one data message of {@code size} payload bytes. */
  public SpanDecision send(MessageType type, long size) {
    try (Scratch s = Scratch.get()) {
      call(s, Native.MODEL_SEND, type, size, null, null);
      return readSpan(s);
    }
  }

  /** The span for processing one received message of {@code size} payload bytes. */
  public SpanDecision receive(MessageType type, long size) {
    try (Scratch s = Scratch.get()) {
      call(s, Native.MODEL_RECEIVE, type, size, null, null);
      return readSpan(s);
    }
  }

  /**
   * What to record at close.
   *
   * @param code the close code, or null when the connection ended without a close frame
   *     (recorded as 1006)
   * @param reason the close reason (may be empty)
   */
  public CloseDecision close(Integer code, String reason) {
    return close(code, reason, 0);
  }

  /**
   * What to record at close, with the count of received messages that got no span ({@link
   * ReceiveSpanBudget#skipped()}), recorded when not 0.
   */
  public CloseDecision close(Integer code, String reason, long receiveSpansSkipped) {
    try (Scratch s = Scratch.get()) {
      call(s, Native.MODEL_CLOSE, MessageType.TEXT, 0, code, reason, receiveSpansSkipped);
      Attributes attrs = readAttributes(s);
      boolean isError = s.readU8() != 0;
      SpanDecision span = s.readU8() != 0 ? readSpan(s) : null;
      return new CloseDecision(attrs, isError, span);
    }
  }

  private void call(Scratch s, int event, MessageType type, long size, Integer code, String reason) {
    call(s, event, type, size, code, reason, 0);
  }

  private void call(
      Scratch s, int event, MessageType type, long size, Integer code, String reason, long receiveSpansSkipped) {
    // The enums mirror the bridge's tables (checked by the native crate's tests).
    s.u8(model.ordinal());
    s.u8(role.ordinal());
    s.str(sessionId);
    s.str(urlPath);
    s.u8(serverAddress != null ? 1 : 0);
    s.str(serverAddress);
    s.u32(serverPort);
    s.u8(event);
    s.u8(type.ordinal());
    s.i64(size);
    s.u32(code == null ? -1 : code);
    s.str(reason == null ? "" : reason);
    s.u8(trust.remoteContext().ordinal());
    s.i64(receiveSpansSkipped);
    s.str(route);
    s.call(Native::modelDecide);
  }

  private static SpanDecision readSpan(Scratch s) {
    String name = s.readStr();
    SpanKind kind = KINDS[s.readU8()];
    int n = s.readU32();
    List<SpanDecision.Source> parents = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      parents.add(SOURCES[s.readU8()]);
    }
    n = s.readU32();
    List<SpanDecision.Source> links = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      links.add(LINKS[s.readU8()]);
    }
    return new SpanDecision(name, kind, parents, links, readAttributes(s));
  }

  /** The bridge's code of a link source (its position in the bridge's {@code LinkSource} table). */
  static int linkCode(SpanDecision.Source link) {
    for (int i = 0; i < LINKS.length; i++) {
      if (LINKS[i] == link) {
        return i;
      }
    }
    throw new IllegalArgumentException("tracewire: not a link source: " + link);
  }

  /** The bridge's attributes block: {@code u32 n, n x (str key, u8 type, value)}. */
  @SuppressWarnings("unchecked")
  static Attributes readAttributes(Scratch s) {
    int n = s.readU32();
    AttributesBuilder b = Attributes.builder();
    for (int i = 0; i < n; i++) {
      String key = s.readStr();
      int type = s.readU8();
      // Keys are few and fixed by the core: keep one AttributeKey per (key, type).
      AttributeKey<?>[] keys = KEYS.computeIfAbsent(key, k -> new AttributeKey<?>[4]);
      switch (type) {
        case 0 -> {
          AttributeKey<String> k = (AttributeKey<String>) keys[0];
          if (k == null) {
            keys[0] = k = AttributeKey.stringKey(key);
          }
          b.put(k, s.readStr());
        }
        case 1 -> {
          AttributeKey<Long> k = (AttributeKey<Long>) keys[1];
          if (k == null) {
            keys[1] = k = AttributeKey.longKey(key);
          }
          b.put(k, s.readI64());
        }
        case 2 -> {
          AttributeKey<Double> k = (AttributeKey<Double>) keys[2];
          if (k == null) {
            keys[2] = k = AttributeKey.doubleKey(key);
          }
          b.put(k, s.readF64());
        }
        case 3 -> {
          AttributeKey<Boolean> k = (AttributeKey<Boolean>) keys[3];
          if (k == null) {
            keys[3] = k = AttributeKey.booleanKey(key);
          }
          b.put(k, s.readU8() != 0);
        }
        default -> throw new IllegalStateException("tracewire: unknown attribute type " + type);
      }
    }
    return b.build();
  }

  @Override
  public String toString() {
    return "ConnectionModel{" + model + ", " + role + ", session=" + sessionId + ", path=" + urlPath + "}";
  }
}
