package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a client sends in its upgrade request (the core's {@code ClientHandshake}): the context
 * and a session id in headers, the envelope offer (with the application's own subprotocols) as
 * WebSocket subprotocols; and what the server's selection means (docs/PROTOCOL.md section 3).
 */
public final class ClientHandshake {
  private final Envelopes offered;
  private final List<String> appProtocols;
  private final String sessionId;

  /**
   * What the server's selected subprotocol means.
   *
   * @param envelopes the envelopes both peers use
   * @param appProtocol the application's subprotocol by its own name, or null
   */
  public record Negotiated(Envelopes envelopes, String appProtocol) {}

  /** A handshake offering {@code offered}, with a new session id. */
  public ClientHandshake(Envelopes offered) {
    this(offered, Headers.newSessionId());
  }

  /** A handshake offering {@code offered} with the given session id. */
  public ClientHandshake(Envelopes offered, String sessionId) {
    this(offered, sessionId, List.of());
  }

  /**
   * A handshake offering {@code offered} and the application's subprotocols {@code appProtocols}
   * (in order of preference) with the given session id.
   *
   * @throws TracewireException {@code invalid_argument} for a subprotocol that is not a token or
   *     starts with {@code tracewire.}
   */
  public ClientHandshake(Envelopes offered, String sessionId, List<String> appProtocols) {
    this.offered = Objects.requireNonNull(offered, "offered");
    this.sessionId = Objects.requireNonNull(sessionId, "sessionId");
    this.appProtocols = List.copyOf(appProtocols);
    negotiated(null); // the core checks the names now, not at connect time
  }

  /** The envelopes offered. */
  public Envelopes offered() {
    return offered;
  }

  /** The application's subprotocols. */
  public List<String> appProtocols() {
    return appProtocols;
  }

  /** The session id sent to the server. */
  public String sessionId() {
    return sessionId;
  }

  /** The request headers: the context and the session id, in order. */
  public Map<String, String> requestHeaders(TraceContext ctx) {
    Map<String, String> out = new LinkedHashMap<>();
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, ctx);
      s.str(sessionId);
      s.call(Native::clientRequest);
      int n = s.readU32();
      for (int i = 0; i < n; i++) {
        String name = Headers.FIELDS[s.readU8()];
        out.put(name, s.readStr());
      }
    }
    return out;
  }

  /** The subprotocols to offer ({@code Sec-WebSocket-Protocol}), most preferred first. */
  public List<String> subprotocols() {
    try (Scratch s = negotiation(null)) {
      int n = s.readU32();
      List<String> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        out.add(s.readStr());
      }
      return out;
    }
  }

  /**
   * What the server's selected subprotocol means: none ({@code null} or empty, a server that
   * does not know tracewire), or one this client did not offer, means no envelopes.
   */
  public Negotiated negotiated(String selected) {
    try (Scratch s = negotiation(selected == null || selected.isEmpty() ? null : selected)) {
      int n = s.readU32();
      for (int i = 0; i < n; i++) {
        s.readStr();
      }
      Envelopes env = Envelopes.fromBits(s.readU8());
      String app = s.readStr();
      return new Negotiated(env, app.isEmpty() ? null : app);
    }
  }

  private Scratch negotiation(String selected) {
    Scratch s = Scratch.get();
    try {
      s.u8(offered.bits());
      s.u32(appProtocols.size());
      for (String p : appProtocols) {
        s.str(p);
      }
      s.u8(selected == null ? 0 : 1);
      s.str(selected == null ? "" : selected);
      s.call(Native::clientNegotiation);
      return s;
    } catch (RuntimeException e) {
      s.close();
      throw e;
    }
  }
}
