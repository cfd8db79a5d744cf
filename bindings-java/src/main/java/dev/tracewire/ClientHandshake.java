package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a client sends in its upgrade request (the core's {@code ClientHandshake}): the context,
 * the envelope offer and a session id; and which envelopes to use once the server answered.
 */
public final class ClientHandshake {
  private final Envelopes offered;
  private final String sessionId;

  /** A handshake offering {@code offered}, with a new session id. */
  public ClientHandshake(Envelopes offered) {
    this(offered, Headers.newSessionId());
  }

  /** A handshake offering {@code offered} with the given session id. */
  public ClientHandshake(Envelopes offered, String sessionId) {
    this.offered = Objects.requireNonNull(offered, "offered");
    this.sessionId = Objects.requireNonNull(sessionId, "sessionId");
  }

  /** The envelopes offered. */
  public Envelopes offered() {
    return offered;
  }

  /** The session id sent to the server. */
  public String sessionId() {
    return sessionId;
  }

  /** The request headers: the context, the envelope offer and the session id, in order. */
  public Map<String, String> requestHeaders(TraceContext ctx) {
    Map<String, String> out = new LinkedHashMap<>();
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, ctx);
      s.u8(offered.bits());
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

  /**
   * The envelopes to use, from the server's response headers: what it accepted out of what was
   * offered. A server that does not know tracewire sends no header: none.
   *
   * @param responseHeaders header names (any case) to values
   */
  public Envelopes accepted(Map<String, ? extends List<String>> responseHeaders) {
    List<String> values = new ArrayList<>();
    for (Map.Entry<String, ? extends List<String>> e : responseHeaders.entrySet()) {
      if (e.getKey() != null && e.getKey().equalsIgnoreCase(Headers.ENVELOPE) && e.getValue() != null) {
        values.addAll(e.getValue());
      }
    }
    return acceptedValues(values);
  }

  /** {@link #accepted(Map)} from the values of the {@code tracewire-envelope} response header. */
  public Envelopes acceptedValues(List<String> envelopeHeaderValues) {
    try (Scratch s = Scratch.get()) {
      s.u32(envelopeHeaderValues.size());
      for (String v : envelopeHeaderValues) {
        s.str(v);
      }
      return Envelopes.fromBits(Native.clientAccepted(offered.bits(), s.address(), s.position()));
    }
  }
}
