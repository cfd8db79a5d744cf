package dev.tracewire.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tracewire.Decoded;
import dev.tracewire.JsonEnvelope;
import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One JSON message sent and received with its trace context: tracewire's JSON envelope vs the
 * hand-written way (the W3C propagators into a header map, members added and read with
 * Jackson). Both end with the receiver's OpenTelemetry {@link Context}.
 */
@State(Scope.Thread)
public class EnvelopeBench {
  static final ObjectMapper JSON = new ObjectMapper();
  static final TextMapPropagator W3C =
      TextMapPropagator.composite(
          W3CTraceContextPropagator.getInstance(), W3CBaggagePropagator.getInstance());
  static final TextMapGetter<JsonNode> NODE_GETTER =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(JsonNode c) {
          return c::fieldNames;
        }

        @Override
        public String get(JsonNode c, String key) {
          JsonNode v = c.get(key);
          return v == null || !v.isTextual() ? null : v.asText();
        }
      };

  byte[] frame;
  Context context;
  JsonEnvelope envelope;

  @Setup
  public void setup() {
    frame =
        "{\"type\":\"chat\",\"id\":42,\"text\":\"What is the weather in Lisbon tomorrow?\",\"stream\":true}"
            .getBytes(StandardCharsets.UTF_8);
    context =
        Context.root()
            .with(Span.wrap(SpanContext.create(
                "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", TraceFlags.getSampled(),
                TraceState.getDefault())));
    // Members left in, as the hand-written side leaves them (the same work on both sides).
    envelope = new JsonEnvelope("", false);
  }

  @TearDown
  public void tearDown() {
    envelope.close();
  }

  @Benchmark
  public Context tracewire() {
    byte[] sent = envelope.inject(frame, context);
    Decoded d = envelope.extract(sent);
    return d.context().storeIn(Context.root());
  }

  @Benchmark
  public Context handWritten() throws Exception {
    // Send: the propagators fill a map; Jackson adds the members to the object.
    Map<String, String> headers = new HashMap<>();
    W3C.inject(context, headers, Map::put);
    ObjectNode node = (ObjectNode) JSON.readTree(frame);
    ObjectNode out = JSON.createObjectNode();
    for (Map.Entry<String, String> e : headers.entrySet()) {
      out.put(e.getKey(), e.getValue());
    }
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      out.set(e.getKey(), e.getValue());
    }
    byte[] sent = JSON.writeValueAsBytes(out);
    // Receive: Jackson parses; the propagators read the members.
    JsonNode received = JSON.readTree(sent);
    return W3C.extract(Context.root(), received, NODE_GETTER);
  }
}
