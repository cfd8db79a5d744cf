package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.EventData;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The vector files of the rules the core owns and Java only applies: {@code target.json} (URL to
 * address, port and path), {@code codec.json} (what each frame becomes, what a malformed envelope
 * leaves on the receive span) and {@code apply.json} (the finished opentelemetry-java span of
 * {@link ConnectionTracer}: parent, links, the baggage the handler sees, name, kind and keys).
 */
class RulesVectorsTest {
  private static final InMemorySpanExporter EXPORTER = InMemorySpanExporter.create();
  private static final Tracer TRACER =
      SdkTracerProvider.builder()
          .addSpanProcessor(SimpleSpanProcessor.create(EXPORTER))
          .build()
          .get("vectors");
  /** The baggage entry each source's context carries, naming the source. */
  private static final String FROM = "from";
  private static final String REMOTE_TRACEPARENT =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  private static final String HANDSHAKE_TRACEPARENT =
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

  private static Stream<DynamicTest> run(String file, Consumer<JsonNode> check) {
    List<JsonNode> cases = Vectors.cases(file);
    assertFalse(cases.isEmpty(), file + ": no cases");
    return cases.stream()
        .map(c -> DynamicTest.dynamicTest(file + ": " + c.get("name").asText(), () -> check.accept(c)));
  }

  // ------------------------------------------------------------------ target.json

  private static Target target(JsonNode t) {
    return new Target(
        Vectors.str(t, "address"), t.get("port").isNull() ? -1 : t.get("port").asInt(), t.get("path").asText());
  }

  @TestFactory
  Stream<DynamicTest> target() {
    return run(
        "target",
        c -> {
          boolean valid = c.get("valid").asBoolean();
          if (c.get("side").asText().equals("client")) {
            String url = c.get("url").asText();
            if (valid) {
              assertEquals(target(c.get("expected")), Target.fromUrl(url));
            } else {
              TracewireException e = assertThrows(TracewireException.class, () -> Target.fromUrl(url));
              assertInstanceOf(TracewireException.InvalidUrl.class, e);
              assertEquals(c.get("error_code").asText(), e.code().coreName());
            }
            return;
          }
          // Java servers use the never-failing form: for invalid requests, what it gives.
          Target got =
              Target.fromRequest(
                  Vectors.str(c, "scheme"), Vectors.str(c, "host"), c.get("request_target").asText());
          assertEquals(target(c.get(valid ? "expected" : "lenient")), got);
        });
  }

  // ------------------------------------------------------------------ codec.json

  private static byte[] bytes(JsonNode frame) {
    if (frame.has("utf8")) {
      return frame.get("utf8").asText().getBytes(StandardCharsets.UTF_8);
    }
    return Vectors.hex(frame.get("hex").asText());
  }

  private static ByteBuffer direct(byte[] b) {
    ByteBuffer d = ByteBuffer.allocateDirect(b.length);
    d.put(b).flip();
    return d;
  }

  @TestFactory
  Stream<DynamicTest> codec() {
    return run(
        "codec",
        c -> {
          JsonNode env = c.get("envelopes");
          Envelopes envelopes = new Envelopes(env.get("json").asBoolean(), env.get("binary").asBoolean());
          String path = c.get("json_path").asText();
          MessageType type = MessageType.valueOf(c.get("message_type").asText().toUpperCase(Locale.ROOT));
          byte[] frame = bytes(c.get("frame"));
          JsonNode want = c.get("expected");
          boolean mcp = "mcp".equals(Vectors.str(c, "json_mode"));
          try (MessageCodec codec =
              mcp
                  ? MessageCodec.mcp(
                      envelopes,
                      c.has("strip") ? c.get("strip").asBoolean() : MessageCodec.stripByDefault())
                  : c.has("strip")
                      ? new MessageCodec(envelopes, path, c.get("strip").asBoolean())
                      : new MessageCodec(envelopes, path)) {
            if (c.get("direction").asText().equals("send")) {
              Context ctx = Vectors.context(c.get("context"), false).storeIn(Context.root());
              byte[] sent = codec.encode(type, frame, ctx);
              assertEquals(want.get("enveloped").asBoolean(), sent != null);
              byte[] wire = sent == null ? frame : sent;
              assertEquals(Vectors.toHex(bytes(want.get("frame"))), Vectors.toHex(wire));
              // The socket-facing forms agree.
              if (type == MessageType.TEXT) {
                String text = new String(frame, StandardCharsets.UTF_8);
                assertArrayEquals(wire, codec.encodeText(text, ctx).getBytes(StandardCharsets.UTF_8));
              } else {
                ByteBuffer b = codec.encodeBinary(ByteBuffer.wrap(frame), ctx);
                byte[] got = new byte[b.remaining()];
                b.get(got);
                assertArrayEquals(wire, got);
              }
              return;
            }
            for (ByteBuffer in : List.of(ByteBuffer.wrap(frame), direct(frame))) {
              checkReceived(c, want, type, codec.decode(type, in));
            }
            if (type == MessageType.TEXT) {
              checkReceived(c, want, type, codec.decodeText(new String(frame, StandardCharsets.UTF_8)));
            }
          }
        });
  }

  private static void checkReceived(JsonNode c, JsonNode want, MessageType type, Decoded d) {
    String name = c.get("name").asText();
    assertEquals(Vectors.toHex(bytes(want.get("payload"))), Vectors.toHex(d.payloadBytes()), name);
    assertEquals(want.get("body_size").asInt(), d.bodySize(), name);
    JsonNode ctx = want.get("context");
    if (ctx == null || ctx.isNull()) {
      assertFalse(d.isEnveloped(), name);
      assertTrue(d.context().isEmpty(), name);
    } else {
      assertTrue(d.isEnveloped(), name);
      assertEquals(Vectors.expectedHeaderStrings(ctx), Vectors.headerStrings(d.context()), name);
    }
    String code = Vectors.str(want, "error_code");
    if (code == null) {
      assertNull(d.error(), name);
    } else {
      assertEquals(Decoded.Kind.MALFORMED, d.kind(), name);
      assertEquals(code, d.error().code().coreName(), name);
    }
    // What the receive span records, through the traced sockets' path.
    ConnectionTracer tracer =
        new ConnectionTracer(
            TRACER,
            new ConnectionModel(TracingModel.CONNECTION, ConnectionModel.Role.SERVER, "s-1", Target.fromUrl("ws://h/")));
    SpanContext sc;
    try (Received r = Received.start(tracer, d, type)) {
      sc = r.span().getSpanContext();
    }
    SpanData span = finished(sc);
    JsonNode event = want.get("event");
    if (event == null || event.isNull()) {
      assertEquals(List.of(), span.getEvents(), name);
      return;
    }
    assertEquals(1, span.getEvents().size(), name);
    EventData e = span.getEvents().get(0);
    assertEquals(event.get("name").asText(), e.getName(), name);
    assertEquals(
        event.get("exception.type").asText(),
        e.getAttributes().get(AttributeKey.stringKey("exception.type")),
        name);
    assertNotNull(e.getAttributes().get(AttributeKey.stringKey("exception.message")), name);
    assertEquals(io.opentelemetry.api.trace.StatusCode.UNSET, span.getStatus().getStatusCode(), name);
  }

  private static SpanData finished(SpanContext sc) {
    return EXPORTER.getFinishedSpanItems().stream()
        .filter(s -> s.getSpanContext().equals(sc))
        .findFirst()
        .orElseThrow(() -> new AssertionError("span not finished: " + sc));
  }

  // ------------------------------------------------------------------ apply.json

  private static Context withFrom(Context c, String source) {
    return c.with(Baggage.builder().put(FROM, source).build());
  }

  private static TraceContext remote(String traceparent, String baggage) {
    TraceContext tp = traceparent == null ? TraceContext.empty() : W3C.parseTraceParent(traceparent);
    return TraceContext.of(
        tp.traceId(),
        tp.spanId(),
        tp.traceFlags(),
        List.of(),
        baggage == null ? List.of() : W3C.parseBaggage(List.of(baggage)).members(),
        true);
  }

  @TestFactory
  Stream<DynamicTest> apply() {
    return run("apply", RulesVectorsTest::applyCase);
  }

  private static void applyCase(JsonNode c) {
    String name = c.get("name").asText();
    JsonNode a = c.get("available");
    boolean remoteSpan = a.get("remote_has_span").asBoolean();
    boolean remoteBaggage = a.get("remote_has_baggage").asBoolean();
    boolean ambientSpan = a.get("ambient_has_span").asBoolean();
    boolean inConnectionTrace = a.get("ambient_in_connection_trace").asBoolean();
    boolean ambientIsConnection = a.get("ambient_is_connection").asBoolean();
    boolean connectionSpan = a.get("connection_has_span").asBoolean();
    TracingModel model = TracingModel.parse(c.get("model").asText());
    ConnectionModel.Role role = ConnectionModel.Role.valueOf(c.get("role").asText().toUpperCase(Locale.ROOT));
    ConnectionModel conn =
        new ConnectionModel(model, role, c.get("session_id").asText(), c.get("url_path").asText(), null, -1);
    ConnectionTracer tracer = new ConnectionTracer(TRACER, conn);

    // The connection span, opened through the binding, in a context whose baggage names it.
    Context connection = null;
    if (connectionSpan) {
      if (role == ConnectionModel.Role.CLIENT) {
        Span setup = TRACER.spanBuilder("setup").setNoParent().startSpan();
        try (Scope ignored = withFrom(Context.root().with(setup), "connection").makeCurrent()) {
          tracer.open(null);
        }
      } else {
        try (Scope ignored = Context.root().makeCurrent()) {
          tracer.open(remote(HANDSHAKE_TRACEPARENT, "from=connection"));
        }
      }
      tracer.upgraded();
      connection = tracer.connectionContext();
      assertEquals("connection", Baggage.fromContext(connection).getEntryValue(FROM), name);
    }
    Context ambient;
    if (connection != null && ambientSpan && ambientIsConnection) {
      ambient = withFrom(connection, "ambient");
    } else if (connection != null && ambientSpan && inConnectionTrace) {
      ambient = withFrom(connection.with(TRACER.spanBuilder("ambient").setParent(connection).startSpan()), "ambient");
    } else if (ambientSpan) {
      ambient = withFrom(Context.root().with(TRACER.spanBuilder("ambient").setNoParent().startSpan()), "ambient");
    } else {
      // Baggage without a span: a new trace must still not take it.
      ambient = withFrom(Context.root(), "ambient");
    }
    TraceContext remote =
        remoteSpan || remoteBaggage
            ? remote(remoteSpan ? REMOTE_TRACEPARENT : null, remoteBaggage ? "from=remote" : null)
            : null;

    EXPORTER.reset();
    Context handler = null;
    SpanContext started;
    try (Scope ignored = ambient.makeCurrent()) {
      switch (c.get("event").asText()) {
        case "open" -> {
          started = tracer.open(remote).getSpanContext();
          handler = tracer.connectionContext();
        }
        case "send" -> {
          handler = tracer.sendContext(type(c), c.get("size").asLong());
          started = Span.fromContext(handler).getSpanContext();
        }
        case "receive" -> {
          handler = tracer.receiveContext(type(c), c.get("size").asLong(), remote);
          started = Span.fromContext(handler).getSpanContext();
        }
        case "close" -> {
          tracer.close(c.get("close_code").asInt(), c.get("close_reason").asText());
          started = null;
        }
        default -> throw new AssertionError("unknown event " + c.get("event"));
      }
    }
    if (handler != null) {
      Span.fromContext(handler).end();
    }
    SpanData span;
    if (started != null) {
      span = finished(started);
    } else {
      List<SpanData> spans = EXPORTER.getFinishedSpanItems();
      assertEquals(1, spans.size(), name + ": " + spans);
      span = spans.get(0);
    }

    JsonNode want = c.get("expected");
    SpanContext ambientSc = Span.fromContext(ambient).getSpanContext();
    SpanContext connSc = connection == null ? SpanContext.getInvalid() : Span.fromContext(connection).getSpanContext();
    SpanContext parent = span.getParentSpanContext();
    switch (want.get("parent").asText()) {
      case "remote" -> {
        assertEquals(remote.traceId(), parent.getTraceId(), name);
        assertEquals(remote.spanId(), parent.getSpanId(), name);
        assertTrue(parent.isRemote(), name);
      }
      case "ambient" -> assertEquals(ambientSc, parent, name);
      case "connection" -> assertEquals(connSc, parent, name);
      case "new_trace" -> {
        assertFalse(parent.isValid(), name + ": a root span");
        for (SpanContext other : List.of(ambientSc, connSc)) {
          if (other.isValid()) {
            assertNotEquals(other.getTraceId(), span.getTraceId(), name);
          }
        }
      }
      default -> fail("unknown parent");
    }
    if (!want.get("parent").asText().equals("new_trace")) {
      assertEquals(parent.getTraceId(), span.getTraceId(), name);
    }
    List<String> links = new ArrayList<>();
    for (LinkData l : span.getLinks()) {
      assertEquals(connSc, l.getSpanContext(), name + ": the link is the connection span");
      links.add("connection");
    }
    assertEquals(Vectors.strings(want.get("links")), links, name);
    if (handler != null) {
      String baggage = want.get("baggage").asText();
      try (Scope ignored = handler.makeCurrent()) {
        assertEquals(baggage.equals("none") ? null : baggage, Baggage.current().getEntryValue(FROM), name + ": baggage");
        assertEquals(span.getSpanContext(), Span.current().getSpanContext(), name);
      }
    }
    JsonNode ws = want.get("span");
    assertEquals(ws.get("name").asText(), span.getName(), name);
    assertEquals(ws.get("kind").asText(), span.getKind().name().toLowerCase(Locale.ROOT), name);
    List<String> keys = new ArrayList<>();
    span.getAttributes().forEach((k, v) -> keys.add(k.getKey()));
    keys.sort(null);
    assertEquals(Vectors.strings(ws.get("attribute_keys")), keys, name);
  }

  private static MessageType type(JsonNode c) {
    return MessageType.valueOf(c.get("message_type").asText().toUpperCase(Locale.ROOT));
  }
}
