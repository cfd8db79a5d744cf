package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Trace context in HTTP-style headers and query strings (the WebSocket handshake): the core's
 * {@code handshake::inject} and {@code handshake::extract}.
 *
 * <pre>{@code
 * Map<String, String> headers = Headers.injectToMap(TraceContext.current());
 * Extracted in = Headers.extract(requestHeaders, "traceparent=00-...");
 * }</pre>
 */
public final class Headers {
  /** {@code traceparent}, as named by the core. */
  public static final String TRACEPARENT = Native.fieldName(0);
  /** {@code tracestate}, as named by the core. */
  public static final String TRACESTATE = Native.fieldName(1);
  /** {@code baggage}, as named by the core. */
  public static final String BAGGAGE = Native.fieldName(2);
  /** {@code tracewire-session}: the session id chosen by the client. */
  public static final String SESSION = Native.fieldName(3);

  static final String[] FIELDS = {TRACEPARENT, TRACESTATE, BAGGAGE, SESSION};

  private Headers() {}

  /**
   * Reads a context from request headers, then from the query string: the {@code traceparent}
   * (and its {@code tracestate}) from the headers when present there, else from the query;
   * {@code baggage} likewise on its own. Never fails: what was ignored is in {@link
   * Extracted#issues()}.
   *
   * @param headers header names (any case) to their values, one per header line
   * @param query the raw query string of the request URI (with or without {@code ?}), or null
   */
  public static Extracted extract(Map<String, ? extends List<String>> headers, String query) {
    try (Scratch s = Scratch.get()) {
      writeQuery(s, query);
      writePairs(s, headers);
      s.call(Native::extract);
      TraceContext ctx = ContextRecords.read(s);
      return new Extracted(ctx, readIssues(s));
    }
  }

  /** {@link #extract(Map, String)} without a query string. */
  public static Extracted extract(Map<String, ? extends List<String>> headers) {
    return extract(headers, null);
  }

  /**
   * Writes {@code ctx} as {@code traceparent} / {@code tracestate} / {@code baggage} headers,
   * each only when there is something to write.
   */
  public static void inject(TraceContext ctx, BiConsumer<String, String> setHeader) {
    String[] names = new String[3];
    String[] values = new String[3];
    int n;
    try (Scratch s = Scratch.get()) {
      ContextRecords.write(s, ctx);
      s.call(Native::inject);
      n = s.readU32();
      for (int i = 0; i < n; i++) {
        names[i] = FIELDS[s.readU8()];
        values[i] = s.readStr();
      }
    }
    for (int i = 0; i < n; i++) {
      setHeader.accept(names[i], values[i]);
    }
  }

  /** {@link #inject(TraceContext, BiConsumer)} into a new ordered map. */
  public static Map<String, String> injectToMap(TraceContext ctx) {
    Map<String, String> m = new LinkedHashMap<>();
    inject(ctx, m::put);
    return m;
  }

  /** A new random session id (32 lowercase hex characters), as the core makes them. */
  public static String newSessionId() {
    return Native.newSessionId();
  }

  static void writeQuery(Scratch s, String query) {
    s.u8(query != null ? 1 : 0);
    s.str(query);
  }

  static void writePairs(Scratch s, Map<String, ? extends List<String>> headers) {
    int count = 0;
    for (List<String> v : headers.values()) {
      count += v == null ? 0 : v.size();
    }
    s.u32(count);
    for (Map.Entry<String, ? extends List<String>> e : headers.entrySet()) {
      if (e.getValue() == null || e.getKey() == null) {
        continue;
      }
      for (String v : e.getValue()) {
        s.str(e.getKey());
        s.str(v);
      }
    }
  }

  static List<Issue> readIssues(Scratch s) {
    int n = s.readU32();
    if (n == 0) {
      return Collections.emptyList();
    }
    List<Issue> issues = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ErrorCode code = ErrorCode.of(s.readU32());
      issues.add(new Issue(code, s.readStr()));
    }
    return issues;
  }
}
