package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Every case of every file in tests/vectors/, through the Java API. */
class VectorsTest {
  private static Stream<DynamicTest> run(String file, Consumer<JsonNode> check) {
    List<JsonNode> cases = Vectors.cases(file);
    assertFalse(cases.isEmpty(), file + ": no cases");
    return cases.stream()
        .map(c -> DynamicTest.dynamicTest(file + ": " + c.get("name").asText(), () -> check.accept(c)));
  }

  @Test
  void everyVectorFileHasARunner() throws Exception {
    // target, codec and apply run in RulesVectorsTest, trust in TrustVectorsTest, pass_on in
    // PassOnTest.
    List<String> known =
        List.of(
            "traceparent", "tracestate", "baggage", "handshake", "envelope_json",
            "envelope_binary", "model", "metrics", "target", "codec", "apply", "trust", "pass_on");
    try (var files = Files.list(Vectors.dir())) {
      files
          .filter(p -> p.toString().endsWith(".json"))
          .forEach(
              p -> {
                String stem = p.getFileName().toString().replaceFirst("\\.json$", "");
                assertTrue(known.contains(stem), "no Java runner for tests/vectors/" + stem + ".json");
              });
    }
  }

  @TestFactory
  Stream<DynamicTest> traceparent() {
    return run(
        "traceparent",
        c -> {
          String input = c.get("input").asText();
          if (c.get("valid").asBoolean()) {
            TraceContext ctx = W3C.parseTraceParent(input);
            assertEquals(Vectors.str(c, "trace_id"), ctx.traceId());
            assertEquals(Vectors.str(c, "span_id"), ctx.spanId());
            assertEquals(c.get("flags").asInt(), ctx.traceFlags() & 0xff);
            assertEquals(Vectors.str(c, "output"), ctx.traceParentHeader());
            assertTrue(ctx.isRemote());
            // The propagator's single-traceparent fast paths agree.
            io.opentelemetry.context.Context got =
                TracewirePropagator.getInstance()
                    .extract(io.opentelemetry.context.Context.root(), Map.of("traceparent", input), InteropTest.GETTER);
            io.opentelemetry.api.trace.SpanContext sc =
                io.opentelemetry.api.trace.Span.fromContext(got).getSpanContext();
            assertEquals(ctx.traceId(), sc.getTraceId());
            assertEquals(ctx.spanId(), sc.getSpanId());
            assertEquals(ctx.traceFlags(), sc.getTraceFlags().asByte());
            Map<String, String> out = new LinkedHashMap<>();
            TracewirePropagator.getInstance().inject(got, out, Map::put);
            assertEquals(Map.of("traceparent", Vectors.str(c, "output")), out);
          } else {
            TracewireException e =
                assertThrows(TracewireException.class, () -> W3C.parseTraceParent(input));
            assertEquals(ErrorCode.INVALID_TRACEPARENT, e.code());
            // Through header extraction: a new trace, with the issue reported.
            Extracted x = Headers.extract(Map.of("traceparent", List.of(input)));
            assertFalse(x.context().hasSpanContext());
            assertEquals(ErrorCode.INVALID_TRACEPARENT, x.issues().get(0).code());
            io.opentelemetry.context.Context got =
                TracewirePropagator.getInstance()
                    .extract(io.opentelemetry.context.Context.root(), Map.of("traceparent", input), InteropTest.GETTER);
            assertFalse(io.opentelemetry.api.trace.Span.fromContext(got).getSpanContext().isValid());
          }
        });
  }

  @TestFactory
  Stream<DynamicTest> tracestate() {
    return run(
        "tracestate",
        c -> {
          List<String> lines = Vectors.strings(c.get("input"));
          if (!c.get("valid").asBoolean()) {
            TracewireException e =
                assertThrows(TracewireException.class, () -> W3C.parseTraceState(lines));
            assertEquals(ErrorCode.INVALID_TRACESTATE, e.code());
            return;
          }
          W3C.TraceStateValue ts = W3C.parseTraceState(lines);
          JsonNode ops = c.get("ops");
          if (ops != null) {
            for (JsonNode op : ops) {
              List<String> o = Vectors.strings(op);
              switch (o.get(0)) {
                case "insert" -> ts = W3C.insertTraceState(ts.entries(), o.get(1), o.get(2));
                case "insert_fails" -> {
                  List<TraceStateEntry> before = ts.entries();
                  TracewireException e =
                      assertThrows(
                          TracewireException.class,
                          () -> W3C.insertTraceState(before, o.get(1), o.get(2)));
                  assertEquals(ErrorCode.INVALID_TRACESTATE, e.code());
                }
                case "remove" -> ts = W3C.removeTraceState(ts.entries(), o.get(1));
                default -> fail("unknown op " + o);
              }
            }
          }
          List<TraceStateEntry> want = new ArrayList<>();
          c.get("entries").forEach(e -> want.add(new TraceStateEntry(e.get(0).asText(), e.get(1).asText())));
          assertEquals(want, ts.entries());
          assertEquals(Vectors.str(c, "output"), ts.header());
          assertTrue(ts.header().length() <= 512);
        });
  }

  private static List<BaggageMember> members(JsonNode n) {
    List<BaggageMember> out = new ArrayList<>();
    if (n == null) {
      return out;
    }
    for (JsonNode m : n) {
      List<BaggageMember.Property> props = new ArrayList<>();
      m.get("properties")
          .forEach(
              p ->
                  props.add(
                      new BaggageMember.Property(p.get(0).asText(), p.get(1).isNull() ? null : p.get(1).asText())));
      out.add(new BaggageMember(m.get("key").asText(), m.get("value").asText(), props));
    }
    return out;
  }

  @TestFactory
  Stream<DynamicTest> baggage() {
    return run(
        "baggage",
        c -> {
          boolean valid = c.get("valid").asBoolean();
          java.util.function.Supplier<W3C.BaggageValue> op =
              c.has("build")
                  ? () -> W3C.buildBaggage(members(c.get("build")))
                  : () -> W3C.parseBaggage(Vectors.strings(c.get("input")));
          if (!valid) {
            TracewireException e = assertThrows(TracewireException.class, op::get);
            assertEquals(ErrorCode.INVALID_BAGGAGE, e.code());
            return;
          }
          W3C.BaggageValue b = op.get();
          assertEquals(members(c.get("members")), b.members());
          assertEquals(Vectors.str(c, "output"), b.header());
          // The output parses back to the same header.
          assertEquals(b.header(), W3C.parseBaggage(List.of(b.header())).header());
        });
  }

  private static Envelopes envelopes(JsonNode n) {
    List<String> names = Vectors.strings(n);
    return new Envelopes(names.contains("json"), names.contains("binary"));
  }

  @TestFactory
  Stream<DynamicTest> handshake() {
    return run(
        "handshake",
        c -> {
          String query = Vectors.str(c, "query");
          List<Map.Entry<String, String>> headers =
              c.has("headers") ? Vectors.pairs(c.get("headers")) : List.of();
          List<String> apps = Vectors.strings(c.get("app_protocols"));
          switch (c.get("op").asText()) {
            case "extract" -> {
              ServerHandshake hs = ServerHandshake.fromRequestPairs(headers, query, Envelopes.ALL, List.of());
              TraceContext ctx = hs.context();
              assertTrue(ctx.isRemote());
              assertEquals(Vectors.expectedHeaderStrings(c.get("context")), Vectors.headerStrings(ctx));
              List<String> codes = new ArrayList<>();
              hs.issues().forEach(i -> codes.add(i.code().coreName()));
              assertEquals(Vectors.strings(c.get("issues")), codes);
              // The map form agrees when header names do not repeat in different cases.
              Map<String, List<String>> map = new LinkedHashMap<>();
              headers.forEach(e -> map.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue()));
              if (map.keySet().stream().map(k -> k.toLowerCase(Locale.ROOT)).distinct().count() == map.size()) {
                assertEquals(ctx, Headers.extract(map, query).context());
              }
            }
            case "inject" -> {
              TraceContext ctx = Vectors.context(c.get("context"), false);
              List<Map.Entry<String, String>> got = new ArrayList<>();
              Headers.inject(ctx, (k, v) -> got.add(Map.entry(k, v)));
              assertEquals(headers, got);
            }
            case "offer" -> {
              Envelopes offered = envelopes(c.get("envelopes"));
              if (c.has("error")) {
                TracewireException e =
                    assertThrows(TracewireException.class, () -> new ClientHandshake(offered, "s", apps));
                assertEquals(Vectors.str(c, "error"), e.code().coreName());
              } else {
                assertEquals(
                    Vectors.strings(c.get("subprotocols")),
                    new ClientHandshake(offered, "s", apps).subprotocols());
              }
            }
            case "select" -> {
              List<Map.Entry<String, String>> lines = new ArrayList<>();
              Vectors.strings(c.get("offered")).forEach(v -> lines.add(Map.entry("Sec-WebSocket-Protocol", v)));
              ServerHandshake hs =
                  ServerHandshake.fromRequestPairs(lines, null, envelopes(c.get("supported")), apps);
              assertEquals(Vectors.str(c, "selected"), hs.subprotocol());
              assertEquals(envelopes(c.get("envelopes")), hs.envelopes());
              assertEquals(Vectors.str(c, "app_protocol"), hs.appProtocol());
            }
            case "client_reads" -> {
              ClientHandshake client = new ClientHandshake(envelopes(c.get("envelopes")), "s", apps);
              ClientHandshake.Negotiated n = client.negotiated(Vectors.str(c, "selected"));
              assertEquals(envelopes(c.get("accepted")), n.envelopes());
              assertEquals(Vectors.str(c, "app_protocol"), n.appProtocol());
            }
            case "session" -> {
              ServerHandshake hs = ServerHandshake.fromRequestPairs(headers, query, Envelopes.ALL, List.of());
              String id = Vectors.str(c, "session_id");
              if (id != null) {
                assertEquals(id, hs.sessionId());
              } else {
                assertTrue(hs.sessionId().matches("[0-9a-f]{32}"), hs.sessionId());
              }
            }
            default -> fail("unknown op");
          }
        });
  }

  @TestFactory
  Stream<DynamicTest> envelopeJson() {
    return run(
        "envelope_json",
        c -> {
          boolean strip = c.has("strip") && c.get("strip").asBoolean();
          byte[] frame = c.get("frame").asText().getBytes(StandardCharsets.UTF_8);
          try (JsonEnvelope env =
              "mcp".equals(Vectors.str(c, "mode"))
                  ? JsonEnvelope.mcp(strip)
                  : new JsonEnvelope(c.get("path").asText(), strip)) {
            switch (c.get("op").asText()) {
              case "inject" -> {
                TraceContext ctx = Vectors.context(c.get("context"), false);
                if (c.get("valid").asBoolean()) {
                  byte[] out = env.inject(frame, ctx);
                  assertEquals(Vectors.str(c, "expected_frame"), new String(out, StandardCharsets.UTF_8));
                } else {
                  TracewireException e = assertThrows(TracewireException.class, () -> env.inject(frame, ctx));
                  assertEquals(Vectors.str(c, "error_code"), e.code().coreName());
                }
              }
              case "extract" -> {
                for (Decoded d :
                    List.of(env.extract(frame), env.extract(direct(frame)), env.extract(ByteBuffer.wrap(frame)))) {
                  assertEquals(Vectors.str(c, "payload"), d.payloadText());
                  switch (c.get("result").asText()) {
                    case "plain" -> assertEquals(Decoded.Kind.PLAIN, d.kind());
                    case "enveloped" -> {
                      assertEquals(Decoded.Kind.ENVELOPED, d.kind(), d.toString());
                      assertTrue(d.context().isRemote());
                      assertEquals(
                          Vectors.headerStrings(Vectors.context(c.get("context"), true)),
                          Vectors.headerStrings(d.context()));
                    }
                    case "malformed" -> {
                      assertEquals(Decoded.Kind.MALFORMED, d.kind());
                      assertEquals(Vectors.str(c, "error_code"), d.error().code().coreName());
                      // Nothing lost: the whole frame is the payload.
                      assertArrayEquals(frame, d.payloadBytes());
                    }
                    default -> fail("unknown result");
                  }
                }
              }
              default -> fail("unknown op");
            }
          }
        });
  }

  static ByteBuffer direct(byte[] b) {
    ByteBuffer d = ByteBuffer.allocateDirect(b.length + 8);
    d.position(3);
    d.put(b);
    d.flip();
    d.position(3);
    return d;
  }

  @TestFactory
  Stream<DynamicTest> envelopeBinary() {
    return run(
        "envelope_binary",
        c -> {
          byte[] frame = Vectors.hex(c.get("frame").asText());
          byte[] payload = Vectors.hex(c.get("payload").asText());
          switch (c.get("op").asText()) {
            case "encode" -> {
              TraceContext ctx = Vectors.context(c.get("context"), true);
              assertEquals(Vectors.toHex(frame), Vectors.toHex(BinaryEnvelope.encode(ctx, payload)));
              ByteBuffer dst = ByteBuffer.allocate(frame.length);
              BinaryEnvelope.encode(ctx, direct(payload), dst);
              assertArrayEquals(frame, dst.array());
            }
            case "decode" -> {
              byte[] copy = frame.clone();
              Decoded d = BinaryEnvelope.decode(copy);
              Decoded dd = BinaryEnvelope.decode(direct(frame));
              for (Decoded x : List.of(d, dd)) {
                assertEquals(Vectors.toHex(payload), Vectors.toHex(x.payloadBytes()));
                switch (c.get("result").asText()) {
                  case "plain" -> assertEquals(Decoded.Kind.PLAIN, x.kind());
                  case "enveloped" -> {
                    assertEquals(Decoded.Kind.ENVELOPED, x.kind(), x.toString());
                    // As a receiver re-emits it: unknown trace flags zeroed.
                    assertEquals(
                        Vectors.headerStrings(Vectors.context(c.get("context"), true)),
                        Vectors.headerStrings(x.context()));
                    assertTrue(x.context().isRemote());
                  }
                  case "malformed" -> {
                    assertEquals(Decoded.Kind.MALFORMED, x.kind());
                    assertEquals(Vectors.str(c, "error_code"), x.error().code().coreName());
                  }
                  default -> fail("unknown result");
                }
              }
              if (payload.length > 0) {
                // The payload is a view of the frame, not a copy.
                copy[copy.length - 1] ^= 0x5a;
                assertEquals(copy[copy.length - 1], d.payload().get(d.payloadSize() - 1));
              }
            }
            default -> fail("unknown op");
          }
        });
  }

  private static Map<String, Object> attributeMap(Attributes a) {
    Map<String, Object> m = new LinkedHashMap<>();
    a.forEach((AttributeKey<?> k, Object v) -> m.put(k.getKey(), v));
    return m;
  }

  private static Map<String, Object> jsonAttributes(JsonNode n) {
    Map<String, Object> m = new LinkedHashMap<>();
    n.fields()
        .forEachRemaining(
            e -> {
              JsonNode v = e.getValue();
              Object o =
                  v.isTextual() ? v.asText() : v.isBoolean() ? v.asBoolean() : v.isIntegralNumber() ? (Object) v.asLong() : v.asDouble();
              m.put(e.getKey(), o);
            });
    return m;
  }

  private static void assertSpan(JsonNode want, SpanDecision d) {
    assertEquals(want.get("name").asText(), d.name());
    assertEquals(want.get("kind").asText(), d.kind().name().toLowerCase(Locale.ROOT));
    List<String> parents = new ArrayList<>();
    d.parents().forEach(p -> parents.add(p.name().toLowerCase(Locale.ROOT)));
    assertEquals(Vectors.strings(want.get("parent")), parents);
    List<String> links = new ArrayList<>();
    d.links().forEach(p -> links.add(p.name().toLowerCase(Locale.ROOT)));
    assertEquals(Vectors.strings(want.get("links")), links);
    assertEquals(jsonAttributes(want.get("attributes")), attributeMap(d.attributes()));
  }

  @TestFactory
  Stream<DynamicTest> model() {
    return run(
        "model",
        c -> {
          TracingModel model = TracingModel.parse(c.get("model").asText());
          ConnectionModel.Role role =
              c.get("role").asText().equals("client") ? ConnectionModel.Role.CLIENT : ConnectionModel.Role.SERVER;
          String addr = Vectors.str(c, "server_address");
          int port = c.has("server_port") && !c.get("server_port").isNull() ? c.get("server_port").asInt() : -1;
          ConnectionModel conn =
              new ConnectionModel(model, role, c.get("session_id").asText(), c.get("url_path").asText(), addr, port);
          if (Vectors.str(c, "route") != null) {
            conn = conn.withRoute(Vectors.str(c, "route"));
          }
          MessageType mt = "binary".equals(Vectors.str(c, "message_type")) ? MessageType.BINARY : MessageType.TEXT;
          long size = c.has("size") ? c.get("size").asLong() : 0;
          JsonNode want = c.get("expected");
          switch (c.get("event").asText()) {
            case "open" -> {
              assertSpan(want, conn.open());
              assertEquals(want.get("ends_at_upgrade").asBoolean(), conn.connectionSpanEndsAtUpgrade());
            }
            case "send" -> assertSpan(want, conn.send(mt, size));
            case "receive" -> assertSpan(want, conn.receive(mt, size));
            case "close" -> {
              Integer code = c.has("close_code") && !c.get("close_code").isNull() ? c.get("close_code").asInt() : null;
              CloseDecision d = conn.close(code, Vectors.str(c, "close_reason"));
              assertEquals(jsonAttributes(want.get("attributes")), attributeMap(d.attributes()));
              assertEquals(want.get("is_error").asBoolean(), d.isError());
              if (want.get("span").isNull()) {
                assertNull(d.span());
              } else {
                assertSpan(want.get("span"), d.span());
              }
            }
            default -> fail("unknown event");
          }
        });
  }

  private static void assertClose(String field, JsonNode want, java.util.OptionalDouble got) {
    if (want == null || want.isNull()) {
      assertTrue(got.isEmpty(), field);
    } else {
      double e = want.asDouble();
      assertTrue(got.isPresent(), field);
      assertTrue(Math.abs(got.getAsDouble() - e) <= 1e-12 * Math.max(Math.abs(e), Math.abs(got.getAsDouble())) || got.getAsDouble() == e,
          field + " = " + got.getAsDouble() + ", expected " + e);
    }
  }

  @TestFactory
  Stream<DynamicTest> metrics() {
    return run(
        "metrics",
        c -> {
          StreamMetrics.Kind kind =
              c.get("kind").asText().equals("model_output") ? StreamMetrics.Kind.MODEL_OUTPUT : StreamMetrics.Kind.GENERIC;
          try (StreamMetrics m = new StreamMetrics(kind)) {
            for (JsonNode chunk : c.get("chunks")) {
              m.recordChunkAt(chunk.get(0).asLong(), chunk.get(1).asLong());
            }
            StreamMetrics.Snapshot s = m.snapshot(true);
            JsonNode e = c.get("expected");
            assertEquals(e.get("chunk_count").asLong(), s.chunkCount());
            assertEquals(e.get("bytes").asLong(), s.bytes());
            assertClose("time_to_first_chunk", e.get("time_to_first_chunk"), s.timeToFirstChunk());
            assertClose("time_to_last_chunk", e.get("time_to_last_chunk"), s.timeToLastChunk());
            assertClose("interval_mean", e.get("interval_mean"), s.intervalMean());
            assertClose("interval_p50", e.get("interval_p50"), s.intervalP50());
            assertClose("interval_p95", e.get("interval_p95"), s.intervalP95());
            assertClose("interval_max", e.get("interval_max"), s.intervalMax());
            JsonNode iv = e.get("intervals");
            assertEquals(iv.size(), s.intervals().length);
            for (int i = 0; i < iv.size(); i++) {
              assertClose("interval " + i, iv.get(i), java.util.OptionalDouble.of(s.intervals()[i]));
            }
            Map<String, Object> attrs = attributeMap(s.attributes());
            JsonNode wantAttrs = c.get("expected_attributes");
            assertEquals(wantAttrs.size(), attrs.size(), attrs.toString());
            for (JsonNode kv : wantAttrs) {
              Object got = attrs.get(kv.get(0).asText());
              JsonNode w = kv.get(1);
              if (w.isIntegralNumber() && got instanceof Long l) {
                assertEquals(w.asLong(), l.longValue(), kv.toString());
              } else {
                assertClose(kv.get(0).asText(), w, java.util.OptionalDouble.of(((Number) got).doubleValue()));
              }
            }
          }
        });
  }
}
