package dev.tracewire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@code trust.json}: the presets of {@link Trust}, the trust policy's choices applied by {@link
 * ConnectionTracer} with opentelemetry-java under {@code ParentBased} samplers, and {@link
 * ReceiveSpanBudget} with what {@link ConnectionModel#close(Integer, String, long)} records.
 */
class TrustVectorsTest {
  private static JsonNode doc() throws Exception {
    return new ObjectMapper().readTree(Vectors.dir().resolve("trust.json").toFile());
  }

  private static Trust trust(JsonNode t) {
    JsonNode b = t.get("baggage");
    Trust.BaggagePolicy policy =
        b.isObject()
            ? Trust.BaggagePolicy.ALLOW_KEYS
            : Trust.BaggagePolicy.valueOf(b.asText().toUpperCase(Locale.ROOT));
    List<String> keys = b.isObject() ? Vectors.strings(b.get("allow_keys")) : List.of();
    JsonNode max = t.get("max_receive_spans");
    return Trust.of(
        Trust.RemoteContext.valueOf(t.get("remote_context").asText().toUpperCase(Locale.ROOT)),
        policy,
        keys,
        max == null || max.isNull() ? -1 : max.asLong());
  }

  @Test
  void presets() throws Exception {
    JsonNode presets = doc().get("presets");
    assertEquals(Trust.trusted(), trust(presets.get("trusted")));
    assertEquals(Trust.untrusted(), trust(presets.get("untrusted")));
  }

  @Test
  void bindingOnlyPassesThePolicyOn() {
    assertThrows(NullPointerException.class, () -> Trust.of(null, Trust.BaggagePolicy.DROP, List.of(), -1));
    // The core decides the session id: a trusting server keeps the client's.
    ConnectionModel kept =
        new ConnectionModel(TracingModel.CONNECTION, ConnectionModel.Role.SERVER, "s-1", "/v", null, -1);
    assertEquals("s-1", kept.sessionId());
  }

  private static Tracer tracer(String sampler, InMemorySpanExporter exporter) {
    Sampler root =
        sampler.equals("parent_based_always_off") ? Sampler.alwaysOff() : Sampler.alwaysOn();
    return SdkTracerProvider.builder()
        .setSampler(Sampler.parentBased(root))
        .addSpanProcessor(SimpleSpanProcessor.create(exporter))
        .build()
        .get("vectors");
  }

  private static Context withMember(Context c, String key) {
    return c.with(Baggage.builder().put(key, "1").build());
  }

  @TestFactory
  Stream<DynamicTest> trust() {
    return Vectors.cases("trust").stream()
        .map(c -> DynamicTest.dynamicTest("trust: " + c.get("name").asText(), () -> trustCase(c)));
  }

  private static void trustCase(JsonNode c) {
    String name = c.get("name").asText();
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    Tracer t = tracer(c.get("sampler").asText(), exporter);
    TracingModel model = TracingModel.parse(c.get("model").asText());
    ConnectionModel.Role role = ConnectionModel.Role.valueOf(c.get("role").asText().toUpperCase(Locale.ROOT));
    Trust policy = trust(c.get("trust"));
    String session = c.get("session_id").asText();
    String path = c.get("url_path").asText();
    JsonNode want = c.get("expected");
    ConnectionModel conn = new ConnectionModel(model, role, session, path, null, -1, policy);
    assertEquals(want.get("session_id_kept").asBoolean(), conn.sessionId().equals(session), name);

    JsonNode received = c.get("received");
    TraceContext tp =
        received.get("traceparent").isNull()
            ? TraceContext.empty()
            : W3C.parseTraceParent(received.get("traceparent").asText());
    String bag = received.get("baggage").asText();
    TraceContext remote =
        TraceContext.of(
            tp.traceId(),
            tp.spanId(),
            tp.traceFlags(),
            List.of(),
            bag.isEmpty() ? List.of() : W3C.parseBaggage(List.of(bag)).members(),
            true);

    ConnectionTracer tracer;
    Context connection = null;
    if (c.get("connection_has_span").asBoolean()) {
      // The connection span under a span and baggage of the case's making: opened as a client's
      // (under the caller's span), since the receive decision does not depend on the role.
      ConnectionModel opener = new ConnectionModel(model, ConnectionModel.Role.CLIENT, session, path, null, -1, policy);
      tracer = new ConnectionTracer(t, opener);
      Span setup = t.spanBuilder("setup").setNoParent().startSpan();
      try (Scope ignored = withMember(Context.root(), "connection").with(setup).makeCurrent()) {
        tracer.open(null);
      }
      connection = tracer.connectionContext();
    } else {
      tracer = new ConnectionTracer(t, conn);
    }
    Context ambient = withMember(Context.root(), "ambient");
    if (c.get("ambient_has_span").asBoolean()) {
      ambient = ambient.with(t.spanBuilder("ambient").setNoParent().startSpan());
    }

    exporter.reset();
    Context handler;
    try (Scope ignored = ambient.makeCurrent()) {
      if (c.get("event").asText().equals("open")) {
        tracer.open(remote);
        handler = tracer.connectionContext();
      } else {
        handler = tracer.receiveContext(MessageType.TEXT, c.get("size").asLong(), remote);
      }
    }
    Span.fromContext(handler).end();
    List<String> keys = new ArrayList<>(Baggage.fromContext(handler).asMap().keySet());
    keys.sort(null);
    assertEquals(Vectors.strings(want.get("baggage_keys")), keys, name + ": baggage");
    List<SpanData> spans = exporter.getFinishedSpanItems();
    if (!want.get("sampled").asBoolean()) {
      assertTrue(spans.isEmpty(), name + ": recorded " + spans);
      assertFalse(Span.fromContext(handler).getSpanContext().isSampled(), name);
      return;
    }
    assertEquals(1, spans.size(), name + ": " + spans);
    SpanData span = spans.get(0);
    SpanContext connSc =
        connection == null ? SpanContext.getInvalid() : Span.fromContext(connection).getSpanContext();
    SpanContext parent = span.getParentSpanContext();
    switch (want.get("parent").asText()) {
      case "remote" -> assertEquals(remote.spanId(), parent.getSpanId(), name);
      case "ambient" -> assertEquals(Span.fromContext(ambient).getSpanContext(), parent, name);
      case "connection" -> assertEquals(connSc, parent, name);
      case "new_trace" -> assertFalse(parent.isValid(), name + ": a root span");
      default -> throw new AssertionError("unknown parent");
    }
    if (remote.hasSpanContext() && !want.get("parent").asText().equals("remote")) {
      assertNotEquals(remote.traceId(), span.getTraceId(), name + ": the peer's trace");
    }
    List<String> links = new ArrayList<>();
    for (LinkData l : span.getLinks()) {
      links.add(l.getSpanContext().getSpanId());
    }
    List<String> wantLinks = new ArrayList<>();
    for (String l : Vectors.strings(want.get("links"))) {
      wantLinks.add(l.equals("connection") ? connSc.getSpanId() : remote.spanId());
    }
    assertEquals(wantLinks, links, name + ": links");
    JsonNode ws = want.get("span");
    assertEquals(ws.get("name").asText(), span.getName(), name);
    assertEquals(ws.get("kind").asText(), span.getKind().name().toLowerCase(Locale.ROOT), name);
    List<String> attrs = new ArrayList<>();
    span.getAttributes().forEach((k, v) -> attrs.add(k.getKey()));
    attrs.sort(null);
    assertEquals(Vectors.strings(ws.get("attribute_keys")), attrs, name);
  }

  @TestFactory
  Stream<DynamicTest> budget() throws Exception {
    List<JsonNode> cases = new ArrayList<>();
    doc().get("budget_cases").forEach(cases::add);
    assertFalse(cases.isEmpty());
    return cases.stream()
        .map(c -> DynamicTest.dynamicTest("trust budget: " + c.get("name").asText(), () -> budgetCase(c)));
  }

  private static void budgetCase(JsonNode c) {
    String name = c.get("name").asText();
    JsonNode max = c.get("max_receive_spans");
    ReceiveSpanBudget budget = new ReceiveSpanBudget(max.isNull() ? -1 : max.asLong());
    List<Boolean> spanned = new ArrayList<>();
    for (int i = 0; i < c.get("received").asInt(); i++) {
      spanned.add(budget.admit());
    }
    JsonNode want = c.get("expected");
    List<Boolean> wantSpanned = new ArrayList<>();
    want.get("spanned").forEach(b -> wantSpanned.add(b.asBoolean()));
    assertEquals(wantSpanned, spanned, name);
    long skipped = want.get("skipped").asLong();
    assertEquals(skipped, budget.skipped(), name);
    ConnectionModel conn =
        new ConnectionModel(
            TracingModel.parse(c.get("model").asText()), ConnectionModel.Role.SERVER, "s-1", "/voice", null, -1);
    CloseDecision d = conn.close(1000, "", budget.skipped());
    var attrs = d.span() != null ? d.span().attributes() : d.attributes();
    Long recorded = attrs.get(AttributeKey.longKey("tracewire.receive_spans.skipped"));
    assertEquals(skipped > 0 ? Long.valueOf(skipped) : null, recorded, name);
  }
}
