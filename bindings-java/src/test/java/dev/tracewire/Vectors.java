package dev.tracewire;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reads the shared vector files in {@code tests/vectors/} (the build passes the directory). */
final class Vectors {
  static final ObjectMapper JSON = new ObjectMapper();

  private Vectors() {}

  static Path dir() {
    String d = System.getProperty("tracewire.vectors", "../tests/vectors");
    return Path.of(d);
  }

  static List<JsonNode> cases(String name) {
    try {
      JsonNode doc = JSON.readTree(Files.readString(dir().resolve(name + ".json")));
      List<JsonNode> out = new ArrayList<>();
      doc.get("cases").forEach(out::add);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String str(JsonNode n, String key) {
    JsonNode v = n.get(key);
    return v == null || v.isNull() ? null : v.asText();
  }

  static List<String> strings(JsonNode n) {
    List<String> out = new ArrayList<>();
    if (n != null && n.isArray()) {
      n.forEach(v -> out.add(v.asText()));
    }
    return out;
  }

  static List<Map.Entry<String, String>> pairs(JsonNode n) {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    n.forEach(p -> out.add(Map.entry(p.get(0).asText(), p.get(1).asText())));
    return out;
  }

  static byte[] hex(String s) {
    byte[] b = new byte[s.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
    }
    return b;
  }

  static String toHex(byte[] b) {
    StringBuilder sb = new StringBuilder();
    for (byte x : b) {
      sb.append(String.format("%02x", x & 0xff));
    }
    return sb.toString();
  }

  /** A context from a vector's header strings, parsed by the core. */
  static TraceContext context(JsonNode c, boolean remote) {
    String tp = str(c, "traceparent");
    String ts = str(c, "tracestate");
    String bg = str(c, "baggage");
    TraceContext parsed = tp != null ? W3C.parseTraceParent(tp) : TraceContext.empty();
    return TraceContext.of(
        parsed.traceId(),
        parsed.spanId(),
        parsed.traceFlags(),
        ts != null ? W3C.parseTraceState(List.of(ts)).entries() : List.of(),
        bg != null ? W3C.parseBaggage(List.of(bg)).members() : List.of(),
        remote);
  }

  /** The header forms of a context: {traceparent, tracestate, baggage}, null when absent. */
  static List<String> headerStrings(TraceContext ctx) {
    Map<String, String> h = Headers.injectToMap(ctx);
    List<String> out = new ArrayList<>();
    out.add(h.get("traceparent"));
    out.add(h.get("tracestate"));
    out.add(h.get("baggage"));
    return out;
  }

  static List<String> expectedHeaderStrings(JsonNode c) {
    List<String> out = new ArrayList<>();
    out.add(str(c, "traceparent"));
    out.add(str(c, "tracestate"));
    out.add(str(c, "baggage"));
    return out;
  }
}
