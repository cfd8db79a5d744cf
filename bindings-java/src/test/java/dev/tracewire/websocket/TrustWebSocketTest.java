package dev.tracewire.websocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tracewire.Envelopes;
import dev.tracewire.Received;
import dev.tracewire.TracingModel;
import dev.tracewire.Trust;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.data.SpanData;
import jakarta.websocket.CloseReason;
import jakarta.websocket.OnClose;
import jakarta.websocket.OnMessage;
import jakarta.websocket.OnOpen;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.glassfish.tyrus.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A Tyrus server configured with an untrusted policy (docs/PROTOCOL.md section 12) and the JDK
 * client, over loopback: the client's context is only a link, its baggage never reaches the
 * handler, the server records its own session id, and past the budget messages get no span.
 */
class TrustWebSocketTest {
  private static final AttributeKey<String> SESSION = AttributeKey.stringKey("websocket.session.id");
  private static final AttributeKey<Long> SKIPPED =
      AttributeKey.longKey("tracewire.receive_spans.skipped");
  /** The baggage keys each message's handler saw. */
  static final List<Set<String>> HANDLER_BAGGAGE = new CopyOnWriteArrayList<>();

  private static Server server;
  private static int port;

  /** Connection model, test tracer, a client on the internet (and a budget of 2 spans). */
  public static final class UntrustedConfigurator extends TracingConfigurator {
    public UntrustedConfigurator() {
      super(Otel.TRACER, TracingModel.CONNECTION, Envelopes.ALL, "");
      trust(Trust.of(Trust.RemoteContext.LINK, Trust.BaggagePolicy.DROP, List.of(), 2));
    }
  }

  @ServerEndpoint(value = "/untrusted", configurator = UntrustedConfigurator.class)
  public static final class UntrustedEcho {
    @OnOpen
    public void onOpen(Session s) {
      TracedSession.open(s);
    }

    @OnMessage
    public void onText(Session s, String message) throws IOException {
      TracedSession t = TracedSession.of(s);
      try (Received r = t.receiveText(message)) {
        HANDLER_BAGGAGE.add(Baggage.current().asMap().keySet());
        t.sendText(r.text());
      }
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    for (int attempt = 0; ; attempt++) {
      port = 20000 + (int) (Math.random() * 20000);
      server = new Server("127.0.0.1", port, "/", Map.of(), UntrustedEcho.class);
      try {
        server.start();
        return;
      } catch (Exception e) {
        if (attempt > 5) {
          throw e;
        }
      }
    }
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.stop();
    }
  }

  @Test
  void anUntrustedClientIsLinkedItsBaggageDroppedAndItsSpansCapped() throws Exception {
    Otel.EXPORTER.reset();
    HANDLER_BAGGAGE.clear();
    BlockingQueue<String> echoes = new LinkedBlockingQueue<>();
    TracedWebSocket.Listener inbox =
        new TracedWebSocket.Listener() {
          @Override
          public void onText(TracedWebSocket ws, Received m) {
            echoes.add(m.text());
          }
        };
    Context withUser = Context.root().with(Baggage.builder().put("user.id", "u-42").build());
    try (Scope ignored = withUser.makeCurrent()) {
      TracedWebSocket ws =
          TracedWebSocket.builder(HttpClient.newHttpClient())
              .tracer(Otel.TRACER)
              .connect(URI.create("ws://127.0.0.1:" + port + "/untrusted"), inbox)
              .get(10, TimeUnit.SECONDS);
      for (int i = 0; i < 5; i++) {
        ws.sendText("{\"n\":" + i + "}").get(10, TimeUnit.SECONDS);
        assertNotNull(echoes.poll(10, TimeUnit.SECONDS), "echo " + i);
      }
      ws.close(1000, "").get(10, TimeUnit.SECONDS);
    }
    List<SpanData> spans =
        Otel.await(
            s ->
                s.stream().anyMatch(x -> x.getKind() == SpanKind.SERVER)
                    && s.stream().anyMatch(x -> x.getKind() == SpanKind.CLIENT));
    assertEquals(List.of(Set.of(), Set.of(), Set.of(), Set.of(), Set.of()), HANDLER_BAGGAGE);
    SpanData connect = one(spans, SpanKind.CLIENT);
    SpanData accept = one(spans, SpanKind.SERVER);
    assertFalse(accept.getParentSpanContext().isValid(), "a trace of the server's own");
    assertNotEquals(connect.getTraceId(), accept.getTraceId());
    assertEquals(1, accept.getLinks().size());
    assertEquals(connect.getSpanId(), accept.getLinks().get(0).getSpanContext().getSpanId());
    assertNotEquals(connect.getAttributes().get(SESSION), accept.getAttributes().get(SESSION));
    long processes =
        spans.stream()
            .filter(s -> s.getKind() == SpanKind.CONSUMER && s.getParentSpanId().equals(accept.getSpanId()))
            .count();
    assertEquals(2, processes, "the budget: " + Otel.names(spans));
    assertEquals(3L, accept.getAttributes().get(SKIPPED));
  }

  private static SpanData one(List<SpanData> spans, SpanKind kind) {
    List<SpanData> found = spans.stream().filter(s -> s.getKind() == kind).toList();
    assertEquals(1, found.size(), kind + " in " + Otel.names(spans));
    return found.get(0);
  }
}
