package dev.tracewire.javaagent;

import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;

/** An OTLP/HTTP (protobuf) trace receiver on 127.0.0.1: what the agent exports, decoded. */
final class OtlpReceiver implements AutoCloseable {
  /** One exported span, its ids in hex as W3C writes them. */
  record Exported(
      String service,
      String name,
      Span.SpanKind kind,
      String traceId,
      String spanId,
      String parentSpanId,
      Map<String, String> attributes,
      List<String> linkedSpanIds) {
    String attr(String key) {
      return attributes.get(key);
    }
  }

  private static final HexFormat HEX = HexFormat.of();
  private final HttpServer server;
  private final List<Exported> spans = new CopyOnWriteArrayList<>();

  OtlpReceiver() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/v1/traces",
        exchange -> {
          try (InputStream in = exchange.getRequestBody()) {
            ExportTraceServiceRequest request = ExportTraceServiceRequest.parseFrom(in.readAllBytes());
            for (ResourceSpans rs : request.getResourceSpansList()) {
              String service = attributes(rs.getResource()).get("service.name");
              for (ScopeSpans ss : rs.getScopeSpansList()) {
                for (Span s : ss.getSpansList()) {
                  spans.add(convert(service, s));
                }
              }
            }
            byte[] body = ExportTraceServiceResponse.getDefaultInstance().toByteArray();
            exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
              out.write(body);
            }
          } catch (IOException | RuntimeException e) {
            exchange.sendResponseHeaders(400, -1);
          } finally {
            exchange.close();
          }
        });
    server.start();
  }

  String endpoint() {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1/traces";
  }

  private static Map<String, String> attributes(Resource r) {
    return map(r.getAttributesList());
  }

  private static Map<String, String> map(List<KeyValue> kvs) {
    Map<String, String> m = new LinkedHashMap<>();
    for (KeyValue kv : kvs) {
      AnyValue v = kv.getValue();
      m.put(
          kv.getKey(),
          switch (v.getValueCase()) {
            case STRING_VALUE -> v.getStringValue();
            case INT_VALUE -> Long.toString(v.getIntValue());
            case BOOL_VALUE -> Boolean.toString(v.getBoolValue());
            case DOUBLE_VALUE -> Double.toString(v.getDoubleValue());
            default -> v.toString();
          });
    }
    return m;
  }

  private static Exported convert(String service, Span s) {
    return new Exported(
        service,
        s.getName(),
        s.getKind(),
        HEX.formatHex(s.getTraceId().toByteArray()),
        HEX.formatHex(s.getSpanId().toByteArray()),
        s.getParentSpanId().isEmpty() ? "" : HEX.formatHex(s.getParentSpanId().toByteArray()),
        map(s.getAttributesList()),
        s.getLinksList().stream().map(l -> HEX.formatHex(l.getSpanId().toByteArray())).toList());
  }

  /** Waits until {@code done} holds for the spans received (or fails after 20 s). */
  List<Exported> await(Predicate<List<Exported>> done, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (true) {
      List<Exported> now = List.copyOf(spans);
      if (done.test(now)) {
        return now;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "the agent did not export " + what + "; received: "
                + now.stream().map(e -> e.service() + ":" + e.name()).toList());
      }
      Thread.sleep(20);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
