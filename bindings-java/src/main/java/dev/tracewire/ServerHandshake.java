package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a server learns from a WebSocket upgrade request, and what it answers (the core's {@code
 * ServerHandshake}): the client's context from the headers, else the query string; the envelopes
 * both sides will use; the session id. Extraction never fails the handshake.
 */
public final class ServerHandshake {
  private final TraceContext context;
  private final List<Issue> issues;
  private final Envelopes envelopes;
  private final String sessionId;
  private final Map<String, String> responseHeaders;

  private ServerHandshake(
      TraceContext context,
      List<Issue> issues,
      Envelopes envelopes,
      String sessionId,
      Map<String, String> responseHeaders) {
    this.context = context;
    this.issues = List.copyOf(issues);
    this.envelopes = envelopes;
    this.sessionId = sessionId;
    this.responseHeaders = Collections.unmodifiableMap(responseHeaders);
  }

  /**
   * Reads an upgrade request.
   *
   * @param headers header names (any case) to their values, one per header line
   * @param query the raw query string (with or without {@code ?}), or null
   * @param supported the envelopes this server supports
   */
  public static ServerHandshake fromRequest(
      Map<String, ? extends List<String>> headers, String query, Envelopes supported) {
    try (Scratch s = Scratch.get()) {
      s.u8(supported.bits());
      Headers.writeQuery(s, query);
      Headers.writePairs(s, headers);
      return read(s);
    }
  }

  /** {@link #fromRequest(Map, String, Envelopes)} with header lines as ordered pairs. */
  public static ServerHandshake fromRequestPairs(
      List<? extends Map.Entry<String, String>> headers, String query, Envelopes supported) {
    try (Scratch s = Scratch.get()) {
      s.u8(supported.bits());
      Headers.writeQuery(s, query);
      s.u32(headers.size());
      for (Map.Entry<String, String> e : headers) {
        s.str(e.getKey());
        s.str(e.getValue());
      }
      return read(s);
    }
  }

  private static ServerHandshake read(Scratch s) {
    s.call(Native::serverHandshake);
    TraceContext ctx = ContextRecords.read(s);
    List<Issue> issues = Headers.readIssues(s);
    Envelopes env = Envelopes.fromBits(s.readU8());
    String session = s.readStr();
    int n = s.readU32();
    Map<String, String> response = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      String name = Headers.FIELDS[s.readU8()];
      response.put(name, s.readStr());
    }
    return new ServerHandshake(ctx, issues, env, session, response);
  }

  /** The client's context (empty when none was sent or it was invalid). */
  public TraceContext context() {
    return context;
  }

  /** What was ignored while extracting, and why. */
  public List<Issue> issues() {
    return issues;
  }

  /** The envelopes both sides will use: offered by the client and supported here. */
  public Envelopes envelopes() {
    return envelopes;
  }

  /** The client's session id, or a new one when the client sent none (or an invalid one). */
  public String sessionId() {
    return sessionId;
  }

  /** Headers for the {@code 101 Switching Protocols} response (the accepted envelopes). */
  public Map<String, String> responseHeaders() {
    return responseHeaders;
  }

  @Override
  public String toString() {
    return "ServerHandshake{context="
        + context
        + ", issues="
        + issues
        + ", envelopes="
        + envelopes
        + ", sessionId="
        + sessionId
        + "}";
  }
}
