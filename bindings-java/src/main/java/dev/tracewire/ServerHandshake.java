package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
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
  private final String subprotocol;
  private final String appProtocol;

  private ServerHandshake(
      TraceContext context,
      List<Issue> issues,
      Envelopes envelopes,
      String sessionId,
      String subprotocol,
      String appProtocol) {
    this.context = context;
    this.issues = List.copyOf(issues);
    this.envelopes = envelopes;
    this.sessionId = sessionId;
    this.subprotocol = subprotocol.isEmpty() ? null : subprotocol;
    this.appProtocol = appProtocol.isEmpty() ? null : appProtocol;
  }

  /**
   * Reads an upgrade request and selects the subprotocol, with no application subprotocol.
   *
   * @param headers header names (any case) to their values, one per header line
   * @param query the raw query string (with or without {@code ?}), or null
   * @param supported the envelopes this server supports
   */
  public static ServerHandshake fromRequest(
      Map<String, ? extends List<String>> headers, String query, Envelopes supported) {
    return fromRequest(headers, query, supported, List.of());
  }

  /**
   * Reads an upgrade request and selects the subprotocol: the first the client offered that is
   * a tracewire token for envelopes in {@code supported} (composed with one of {@code
   * appProtocols}, or alone), or one of {@code appProtocols}.
   *
   * @param headers header names (any case) to their values, one per header line
   * @param query the raw query string (with or without {@code ?}), or null
   * @param supported the envelopes this server supports
   * @param appProtocols the application's own subprotocols
   * @throws TracewireException {@code invalid_argument} for an application subprotocol that is
   *     not a token or starts with {@code tracewire.}
   */
  public static ServerHandshake fromRequest(
      Map<String, ? extends List<String>> headers,
      String query,
      Envelopes supported,
      List<String> appProtocols) {
    try (Scratch s = Scratch.get()) {
      s.u8(supported.bits());
      Headers.writeQuery(s, query);
      Headers.writePairs(s, headers);
      writeApps(s, appProtocols);
      return read(s);
    }
  }

  /** {@link #fromRequest(Map, String, Envelopes, List)} with header lines as ordered pairs. */
  public static ServerHandshake fromRequestPairs(
      List<? extends Map.Entry<String, String>> headers,
      String query,
      Envelopes supported,
      List<String> appProtocols) {
    try (Scratch s = Scratch.get()) {
      s.u8(supported.bits());
      Headers.writeQuery(s, query);
      s.u32(headers.size());
      for (Map.Entry<String, String> e : headers) {
        s.str(e.getKey());
        s.str(e.getValue());
      }
      writeApps(s, appProtocols);
      return read(s);
    }
  }

  private static void writeApps(Scratch s, List<String> appProtocols) {
    s.u32(appProtocols.size());
    for (String p : appProtocols) {
      s.str(p);
    }
  }

  private static ServerHandshake read(Scratch s) {
    s.call(Native::serverHandshake);
    TraceContext ctx = ContextRecords.read(s);
    List<Issue> issues = Headers.readIssues(s);
    Envelopes env = Envelopes.fromBits(s.readU8());
    String session = s.readStr();
    String subprotocol = s.readStr();
    String app = s.readStr();
    return new ServerHandshake(ctx, issues, env, session, subprotocol, app);
  }

  /** The client's context (empty when none was sent or it was invalid). */
  public TraceContext context() {
    return context;
  }

  /** What was ignored while extracting, and why. */
  public List<Issue> issues() {
    return issues;
  }

  /** The envelopes both sides will use: those of the selected subprotocol. */
  public Envelopes envelopes() {
    return envelopes;
  }

  /** The client's session id, or a new one when the client sent none (or an invalid one). */
  public String sessionId() {
    return sessionId;
  }

  /**
   * The subprotocol to answer in {@code Sec-WebSocket-Protocol}, exactly as the client offered it,
   * or null for none.
   */
  public String subprotocol() {
    return subprotocol;
  }

  /** The application's subprotocol agreed with the client, by its own name, or null. */
  public String appProtocol() {
    return appProtocol;
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
