package dev.tracewire.websocket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tracewire.Envelopes;
import dev.tracewire.Received;
import dev.tracewire.TracingModel;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.trace.data.LinkData;
import io.opentelemetry.sdk.trace.data.SpanData;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.glassfish.tyrus.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A real standalone Jakarta WebSocket server (Tyrus on Grizzly) and the JDK client, over
 * loopback, in both tracing models; spans checked with the SDK's in-memory exporter.
 */
class WebSocketTest {
  private static final AttributeKey<String> SESSION = AttributeKey.stringKey("websocket.session.id");
  private static final AttributeKey<Long> CLOSE_CODE = AttributeKey.longKey("websocket.close.code");
  private static Server server;
  private static int port;
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final String CHAT = "{\"type\":\"chat\",\"text\":\"hi\"}";

  @BeforeAll
  static void start() throws Exception {
    for (int attempt = 0; ; attempt++) {
      port = 20000 + (int) (Math.random() * 20000);
      server =
          new Server(
              "127.0.0.1", port, "/", Map.of(),
              Endpoints.ConnectionEcho.class, Endpoints.MessageEcho.class, Endpoints.KeepEnvelopeEcho.class,
              Endpoints.PlainEcho.class, Endpoints.Big.class, Endpoints.SmallEcho.class,
              Endpoints.McpEcho.class, Endpoints.PlainMcpEcho.class);
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

  @BeforeEach
  void reset() {
    Otel.EXPORTER.reset();
    Endpoints.PLAIN_RECEIVED.clear();
    Endpoints.TRACED_BINARY.clear();
    Endpoints.TRACED_TEXT.clear();
    Endpoints.TRACED_LIMITS.clear();
    Endpoints.BIG_CLOSES.clear();
    Endpoints.SUBPROTOCOLS.clear();
  }

  private static URI uri(String path) {
    return URI.create("ws://127.0.0.1:" + port + path);
  }

  /** Collects what the client's listener receives. */
  static class Inbox implements TracedWebSocket.Listener {
    final BlockingQueue<String> texts = new LinkedBlockingQueue<>();
    final BlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
    final BlockingQueue<Integer> closes = new LinkedBlockingQueue<>();
    final List<String> traceIdsInListener = new ArrayList<>();

    @Override
    public void onText(TracedWebSocket ws, Received m) {
      traceIdsInListener.add(Span.current().getSpanContext().getTraceId());
      texts.add(m.text());
    }

    @Override
    public void onBinary(TracedWebSocket ws, Received m) {
      byte[] b = new byte[m.data().remaining()];
      m.data().get(b);
      binaries.add(b);
    }

    @Override
    public void onClose(TracedWebSocket ws, int code, String reason) {
      closes.add(code);
    }
  }

  private static SpanData one(List<SpanData> spans, String name, SpanKind kind) {
    List<SpanData> found =
        spans.stream().filter(s -> s.getName().equals(name) && s.getKind() == kind).toList();
    assertEquals(1, found.size(), name + " " + kind + " in " + Otel.names(spans).toString());
    return found.get(0);
  }

  private static List<SpanData> all(List<SpanData> spans, String name, SpanKind kind) {
    return spans.stream().filter(s -> s.getName().equals(name) && s.getKind() == kind).toList();
  }

  private static boolean linksTo(SpanData s, SpanData target) {
    for (LinkData l : s.getLinks()) {
      if (l.getSpanContext().equals(target.getSpanContext())) {
        return true;
      }
    }
    return false;
  }

  private static void childOf(SpanData child, SpanData parent) {
    assertEquals(parent.getTraceId(), child.getTraceId(), child.getName() + " trace");
    assertEquals(parent.getSpanId(), child.getParentSpanId(), child.getName() + " parent");
  }

  /** Runs one exchange (a JSON text and a binary message, then close) under a parent span. */
  private static SpanData exchange(String path, TracingModel model, Inbox inbox, String sessionCheck)
      throws Exception {
    Span op = Otel.TRACER.spanBuilder("client-op").startSpan();
    TracedWebSocket ws;
    try (Scope ignored = op.makeCurrent()) {
      ws =
          TracedWebSocket.builder(HTTP)
              .tracer(Otel.TRACER)
              .model(model)
              .offer(Envelopes.ALL)
              .connect(uri(path), inbox)
              .get(10, TimeUnit.SECONDS);
      assertEquals(Envelopes.ALL, ws.envelopes(), "the server selected tracewire.v1.json-binary");
      assertEquals("tracewire.v1.json-binary", ws.webSocket().getSubprotocol());
      ws.sendText(CHAT).get(10, TimeUnit.SECONDS);
      // Envelope members are stripped on receive (the default): each application sees exactly
      // what the other wrote.
      assertEquals(Endpoints.reply(CHAT), inbox.texts.poll(10, TimeUnit.SECONDS), "text echo");
      byte[] data = {1, 2, 3, (byte) 0xF5};
      ws.sendBinary(ByteBuffer.wrap(data)).get(10, TimeUnit.SECONDS);
      assertArrayEquals(data, inbox.binaries.poll(10, TimeUnit.SECONDS), "binary echo");
      ws.close(1000, "bye").get(10, TimeUnit.SECONDS);
      assertEquals(1000, inbox.closes.poll(10, TimeUnit.SECONDS));
    } finally {
      op.end();
    }
    // The server's application saw the exact payload bytes (envelope removed).
    assertArrayEquals(new byte[] {1, 2, 3, (byte) 0xF5}, Endpoints.TRACED_BINARY.get(0));
    assertEquals(CHAT, Endpoints.TRACED_TEXT.get(0));
    return Otel.await(s -> s.stream().filter(x -> x.getName().startsWith("close") || x.getAttributes().get(CLOSE_CODE) != null).count() >= 2
        && s.stream().anyMatch(x -> x.getName().equals("client-op"))).stream()
        .filter(x -> x.getName().equals("client-op")).findFirst().orElseThrow();
  }

  @Test
  void connectionModelOneTraceAcrossClientAndServer() throws Exception {
    Inbox inbox = new Inbox();
    SpanData op = exchange("/conn", TracingModel.CONNECTION, inbox, null);
    List<SpanData> spans =
        Otel.await(s -> s.size() >= 10);
    SpanData connect = one(spans, "connect /conn", SpanKind.CLIENT);
    SpanData accept = one(spans, "accept /conn", SpanKind.SERVER);
    List<SpanData> sends = all(spans, "send /conn", SpanKind.PRODUCER);
    List<SpanData> processes = all(spans, "process /conn", SpanKind.CONSUMER);
    assertEquals(4, sends.size(), Otel.names(spans).toString());
    assertEquals(4, processes.size(), Otel.names(spans).toString());
    childOf(connect, op);
    childOf(accept, connect);
    // Every span is in the client's trace.
    for (SpanData s : spans) {
      assertEquals(op.getTraceId(), s.getTraceId(), s.getName());
    }
    // Each process span is the child of the matching send span on the other side.
    for (SpanData p : processes) {
      SpanData parent =
          sends.stream().filter(s -> s.getSpanId().equals(p.getParentSpanId())).findFirst().orElse(null);
      assertNotNull(parent, "process span's parent is a send span: " + p);
      assertEquals(p.getAttributes().get(AttributeKey.stringKey("websocket.message.type")),
          parent.getAttributes().get(AttributeKey.stringKey("websocket.message.type")));
    }
    // Both sides record the same session id on every span.
    String session = connect.getAttributes().get(SESSION);
    assertNotNull(session);
    for (SpanData s : spans) {
      if (!s.getName().equals("client-op")) {
        assertEquals(session, s.getAttributes().get(SESSION), s.getName());
      }
    }
    // Close recorded on both connection spans.
    assertEquals(1000L, accept.getAttributes().get(CLOSE_CODE));
    assertEquals(1000L, connect.getAttributes().get(CLOSE_CODE));
    assertEquals(StatusCode.UNSET, connect.getStatus().getStatusCode());
    // The client's listener ran inside its process span.
    assertEquals(op.getTraceId(), inbox.traceIdsInListener.get(0));
  }

  @Test
  void messageModelLinksToTheConnectionSpan() throws Exception {
    Inbox inbox = new Inbox();
    SpanData op = exchange("/msg", TracingModel.MESSAGE, inbox, null);
    List<SpanData> spans = Otel.await(s -> s.size() >= 12);
    SpanData connect = one(spans, "connect /msg", SpanKind.CLIENT);
    SpanData accept = one(spans, "accept /msg", SpanKind.SERVER);
    childOf(connect, op);
    childOf(accept, connect);
    // The connection spans ended at the upgrade: before any message span.
    List<SpanData> sends = all(spans, "send /msg", SpanKind.PRODUCER);
    List<SpanData> processes = all(spans, "process /msg", SpanKind.CONSUMER);
    assertEquals(4, sends.size(), Otel.names(spans).toString());
    assertEquals(4, processes.size(), Otel.names(spans).toString());
    for (SpanData s : sends) {
      assertTrue(s.getStartEpochNanos() >= accept.getEndEpochNanos() || s.getStartEpochNanos() >= connect.getEndEpochNanos());
      assertTrue(linksTo(s, connect) || linksTo(s, accept), "send links to its connection span");
    }
    for (SpanData p : processes) {
      assertTrue(linksTo(p, connect) || linksTo(p, accept), "process links to its connection span");
      SpanData parent =
          sends.stream().filter(s -> s.getSpanId().equals(p.getParentSpanId())).findFirst().orElse(null);
      assertNotNull(parent, "process span's parent is the message's send span");
    }
    // Close spans on both sides, with the code, each in its connection's trace under the
    // connection span.
    List<SpanData> closes = all(spans, "close /msg", SpanKind.INTERNAL);
    assertEquals(2, closes.size(), Otel.names(spans).toString());
    for (SpanData c : closes) {
      assertEquals(1000L, c.getAttributes().get(CLOSE_CODE));
      assertTrue(
          c.getParentSpanId().equals(connect.getSpanId()) || c.getParentSpanId().equals(accept.getSpanId()),
          "close span's parent is its connection span");
      assertTrue(c.getLinks().isEmpty());
    }
    assertEquals(connect.getAttributes().get(SESSION), accept.getAttributes().get(SESSION));
    assertEquals("message", accept.getAttributes().get(AttributeKey.stringKey("tracewire.model")));
  }

  @Test
  void envelopeMembersAreKeptOnlyWhenAsked() throws Exception {
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER)
            .stripEnvelope(false)
            .connect(uri("/keep"), inbox).get(10, TimeUnit.SECONDS);
    ws.sendText(CHAT).get(10, TimeUnit.SECONDS);
    String echo = inbox.texts.poll(10, TimeUnit.SECONDS);
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    assertTrue(Endpoints.JSON.readTree(Endpoints.TRACED_TEXT.get(0)).path("tracewire").has("traceparent"),
        Endpoints.TRACED_TEXT.get(0));
    assertTrue(Endpoints.JSON.readTree(echo).path("tracewire").has("traceparent"), echo);
  }

  @Test
  void aStaleEnvelopeIsReplacedAndTheApplicationsBaggageMemberKept() throws Exception {
    // A forwarded frame: someone else's envelope, and the application's own member named baggage.
    String stale = "0af7651916cd43dd8448eb211c80319c";
    String sent =
        "{\"baggage\":\"app-owned\",\"tracewire\":{\"traceparent\":\"00-" + stale
            + "-b7ad6b7169203331-01\",\"tracestate\":\"stale=1\",\"baggage\":\"old=1\"},\"type\":\"chat\"}";
    String untouched = "{\"baggage\":\"app-owned\",\"type\":\"chat\"}";
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER)
            .connect(uri("/conn"), inbox).get(10, TimeUnit.SECONDS);
    ws.sendText(sent).get(10, TimeUnit.SECONDS);
    String echo = inbox.texts.poll(10, TimeUnit.SECONDS);
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    assertEquals(untouched, Endpoints.TRACED_TEXT.get(0), "the server application's payload");
    assertEquals(Endpoints.reply(untouched), echo, "the client application's payload");
    List<SpanData> spans =
        Otel.await(
            s -> s.stream().anyMatch(x -> x.getName().equals("connect /conn"))
                && s.stream().filter(x -> x.getName().equals("process /conn")).count() >= 2);
    SpanData connect = one(spans, "connect /conn", SpanKind.CLIENT);
    List<SpanData> sends = all(spans, "send /conn", SpanKind.PRODUCER);
    // One trace, the client's: each process span is the child of a send span, never of the
    // stale context.
    for (SpanData p : all(spans, "process /conn", SpanKind.CONSUMER)) {
      assertEquals(connect.getTraceId(), p.getTraceId(), spans.toString());
      assertTrue(sends.stream().anyMatch(s -> s.getSpanId().equals(p.getParentSpanId())), p.toString());
    }
  }

  @Test
  void tracedClientAgainstAPlainServer() throws Exception {
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).connect(uri("/plain"), inbox).get(10, TimeUnit.SECONDS);
    assertEquals(Envelopes.NONE, ws.envelopes(), "a plain server selects no subprotocol");
    String msg = "{\"type\":\"chat\"}";
    ws.sendText(msg).get(10, TimeUnit.SECONDS);
    String echo = inbox.texts.poll(10, TimeUnit.SECONDS);
    assertNotNull(echo);
    // Nothing was negotiated: the plain server got the frame unchanged.
    assertEquals(List.of(msg), Endpoints.PLAIN_RECEIVED);
    assertEquals(Endpoints.reply(msg), echo);
    byte[] data = {(byte) 0xF5, 0x54, 0x57, 1, 9};
    ws.sendBinary(ByteBuffer.wrap(data)).get(10, TimeUnit.SECONDS);
    assertArrayEquals(data, inbox.binaries.poll(10, TimeUnit.SECONDS), "not enveloped, not stripped");
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    List<SpanData> spans = Otel.await(s -> s.stream().anyMatch(x -> x.getName().equals("connect /plain")));
    SpanData connect = one(spans, "connect /plain", SpanKind.CLIENT);
    for (SpanData p : all(spans, "process /plain", SpanKind.CONSUMER)) {
      childOf(p, connect); // no context in the message: the connection span is the parent
    }
  }

  @Test
  void plainClientAgainstATracedServerWithQueryContext() throws Exception {
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    String tp = "00-" + traceId + "-00f067aa0ba902b7-01";
    BlockingQueue<String> texts = new LinkedBlockingQueue<>();
    BlockingQueue<byte[]> bins = new LinkedBlockingQueue<>();
    WebSocket ws =
        HTTP.newWebSocketBuilder()
            .buildAsync(
                uri("/conn?traceparent=" + tp),
                new WebSocket.Listener() {
                  @Override
                  public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                    texts.add(data.toString());
                    w.request(1);
                    return null;
                  }

                  @Override
                  public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
                    byte[] b = new byte[data.remaining()];
                    data.get(b);
                    bins.add(b);
                    w.request(1);
                    return null;
                  }
                })
            .get(10, TimeUnit.SECONDS);
    // A text that looks enveloped, and a binary frame with the magic: no envelope was
    // negotiated, so the server delivers both unchanged and replies without envelopes.
    String msg =
        "{\"tracewire\":{\"traceparent\":\"00-11111111111111111111111111111111-2222222222222222-01\"},\"x\":1}";
    ws.sendText(msg, true).get(10, TimeUnit.SECONDS);
    String echo = texts.poll(10, TimeUnit.SECONDS);
    assertEquals(Endpoints.reply(msg), echo, "plain reply, no envelope members");
    byte[] magic = {(byte) 0xF5, 0x54, 0x57, 1, 0};
    ws.sendBinary(ByteBuffer.wrap(magic), true).get(10, TimeUnit.SECONDS);
    assertArrayEquals(magic, bins.poll(10, TimeUnit.SECONDS));
    assertArrayEquals(magic, Endpoints.TRACED_BINARY.get(0));
    ws.sendClose(1001, "going").get(10, TimeUnit.SECONDS);
    List<SpanData> spans =
        Otel.await(s -> s.stream().anyMatch(x -> x.getName().equals("accept /conn")));
    SpanData accept = one(spans, "accept /conn", SpanKind.SERVER);
    // The handshake context came from the query string (browsers cannot set headers).
    assertEquals(traceId, accept.getTraceId());
    assertEquals("00f067aa0ba902b7", accept.getParentSpanId());
    assertEquals(1001L, accept.getAttributes().get(CLOSE_CODE));
    for (SpanData p : all(spans, "process /conn", SpanKind.CONSUMER)) {
      childOf(p, accept);
    }
  }

  @Test
  void concurrentHandshakesKeepTheirOwnContext() throws Exception {
    int n = 6;
    List<Span> ops = new ArrayList<>();
    List<CompletableFuture<TracedWebSocket>> conns = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Span op = Otel.TRACER.spanBuilder("op-" + i).startSpan();
      ops.add(op);
      try (Scope ignored = op.makeCurrent()) {
        conns.add(TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).connect(uri("/conn"), new Inbox()));
      }
    }
    for (CompletableFuture<TracedWebSocket> c : conns) {
      c.get(10, TimeUnit.SECONDS).close(1000, "").get(10, TimeUnit.SECONDS);
    }
    ops.forEach(Span::end);
    List<SpanData> spans =
        Otel.await(
            s -> s.stream().filter(x -> x.getName().equals("accept /conn")).count() == n
                && s.stream().filter(x -> x.getName().equals("connect /conn")).count() == n);
    for (SpanData accept : all(spans, "accept /conn", SpanKind.SERVER)) {
      SpanData connect =
          spans.stream()
              .filter(x -> x.getName().equals("connect /conn") && x.getSpanId().equals(accept.getParentSpanId()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("accept without its connect span"));
      assertEquals(connect.getAttributes().get(SESSION), accept.getAttributes().get(SESSION));
    }
    assertFalse(spans.isEmpty());
  }

  @Test
  void theApplicationSubprotocolIsKept() throws Exception {
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).subprotocols("graphql-ws", "mcp")
            .connect(uri("/mcp"), inbox).get(10, TimeUnit.SECONDS);
    assertEquals("mcp", ws.subprotocol());
    assertEquals("tracewire.v1.json-binary+mcp", ws.webSocket().getSubprotocol());
    assertEquals(Envelopes.ALL, ws.envelopes());
    ws.sendText(CHAT).get(10, TimeUnit.SECONDS);
    assertEquals(Endpoints.reply(CHAT), inbox.texts.poll(10, TimeUnit.SECONDS));
    assertEquals(CHAT, Endpoints.TRACED_TEXT.get(0), "envelope removed before the application");
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    assertEquals(List.of("mcp", "tracewire.v1.json-binary+mcp"), Endpoints.SUBPROTOCOLS);

    // A server that speaks mcp but not tracewire: no envelopes, the application keeps mcp.
    Inbox plainInbox = new Inbox();
    TracedWebSocket plain =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).subprotocols("mcp")
            .connect(uri("/plain-mcp"), plainInbox).get(10, TimeUnit.SECONDS);
    assertEquals("mcp", plain.subprotocol());
    assertEquals(Envelopes.NONE, plain.envelopes());
    plain.sendText(CHAT).get(10, TimeUnit.SECONDS);
    assertEquals(Endpoints.reply(CHAT), plainInbox.texts.poll(10, TimeUnit.SECONDS));
    assertEquals(List.of(CHAT), Endpoints.PLAIN_RECEIVED, "exactly the application's bytes");
    plain.close(1000, "").get(10, TimeUnit.SECONDS);
  }

  @Test
  void theServerAnswersTheSelectedSubprotocolInThe101() throws Exception {
    try (java.net.Socket sock = new java.net.Socket("127.0.0.1", port)) {
      String req =
          "GET /conn HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\n"
              + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              + "Sec-WebSocket-Version: 13\r\n"
              + "Sec-WebSocket-Protocol: tracewire.v2.json-binary, tracewire.v1.json\r\n"
              + "tracewire-session: my-session\r\n\r\n";
      sock.getOutputStream().write(req.getBytes(StandardCharsets.US_ASCII));
      sock.setSoTimeout(10_000);
      java.io.BufferedReader in =
          new java.io.BufferedReader(new java.io.InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
      String status = in.readLine();
      assertTrue(status.startsWith("HTTP/1.1 101"), status);
      Map<String, String> headers = new java.util.HashMap<>();
      for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
        int i = line.indexOf(':');
        headers.put(line.substring(0, i).trim().toLowerCase(java.util.Locale.ROOT), line.substring(i + 1).trim());
      }
      // A token of an unknown version is skipped; the next one is selected.
      assertEquals("tracewire.v1.json", headers.get("sec-websocket-protocol"), headers.toString());
    }
    List<SpanData> spans = Otel.await(s -> s.stream().anyMatch(x -> x.getName().equals("accept /conn")));
    assertEquals("my-session", one(spans, "accept /conn", SpanKind.SERVER).getAttributes().get(SESSION));
  }

  @Test
  void textThatIsNotJsonIsSentUnchanged() throws Exception {
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER)
            .connect(uri("/conn"), inbox).get(10, TimeUnit.SECONDS);
    ws.sendText("not json").get(10, TimeUnit.SECONDS);
    assertNotNull(inbox.texts.poll(10, TimeUnit.SECONDS));
    assertEquals("not json", Endpoints.TRACED_TEXT.get(0));
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
  }

  @Test
  void aMalformedEnvelopeIsDeliveredAndRecordedAsTheCoresExceptionEvent() throws Exception {
    BlockingQueue<String> texts = new LinkedBlockingQueue<>();
    WebSocket ws =
        HTTP.newWebSocketBuilder()
            .subprotocols("tracewire.v1.json")
            .buildAsync(
                uri("/conn"),
                new WebSocket.Listener() {
                  @Override
                  public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                    texts.add(data.toString());
                    w.request(1);
                    return null;
                  }
                })
            .get(10, TimeUnit.SECONDS);
    String msg = "{\"tracewire\":{\"traceparent\":\"00-zz\"},\"x\":1}";
    ws.sendText(msg, true).get(10, TimeUnit.SECONDS);
    assertNotNull(texts.poll(10, TimeUnit.SECONDS));
    // Delivered as it came.
    assertEquals(msg, Endpoints.TRACED_TEXT.get(0));
    ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
    List<SpanData> spans =
        Otel.await(s -> s.stream().anyMatch(x -> x.getName().equals("accept /conn")));
    SpanData accept = one(spans, "accept /conn", SpanKind.SERVER);
    // The core's target: the Host header's address and port, the raw path.
    assertEquals(uri("/").getHost(), accept.getAttributes().get(AttributeKey.stringKey("server.address")));
    assertEquals((long) uri("/").getPort(), accept.getAttributes().get(AttributeKey.longKey("server.port")));
    SpanData process = one(spans, "process /conn", SpanKind.CONSUMER);
    assertEquals(1, process.getEvents().size());
    assertEquals("exception", process.getEvents().get(0).getName());
    assertEquals(
        "invalid_traceparent",
        process.getEvents().get(0).getAttributes().get(AttributeKey.stringKey("exception.type")));
    assertEquals(StatusCode.UNSET, process.getStatus().getStatusCode());
  }

  private static Inbox askBig(TracedWebSocket.Builder b, String what, Inbox in) throws Exception {
    TracedWebSocket ws = b.tracer(Otel.TRACER).connect(uri("/big"), in).get(10, TimeUnit.SECONDS);
    ws.sendText(what).get(10, TimeUnit.SECONDS);
    return in;
  }

  @Test
  void theDefaultLimitsAreTheCores() {
    assertEquals(1 << 20, WebSocketLimits.MAX_MESSAGE_SIZE);
    assertEquals(java.time.Duration.ofSeconds(10), WebSocketLimits.HANDSHAKE_TIMEOUT);
  }

  @Test
  void aMessageOverTheDefaultLimitIsRefusedWith1009AndNeverDelivered() throws Exception {
    int over = WebSocketLimits.MAX_MESSAGE_SIZE + 1;
    for (String what : List.of("t" + over, "b" + over)) {
      Endpoints.BIG_CLOSES.clear();
      Inbox in = askBig(TracedWebSocket.builder(HTTP), what, new Inbox());
      assertEquals(1009, in.closes.poll(10, TimeUnit.SECONDS), what);
      assertTrue(in.texts.isEmpty(), what);
      assertTrue(in.binaries.isEmpty(), what);
      // The JDK client may not send 1009: its close frame says 1008, the span records 1009.
      for (int i = 0; i < 100 && Endpoints.BIG_CLOSES.isEmpty(); i++) {
        Thread.sleep(50);
      }
      assertEquals(List.of(1008), Endpoints.BIG_CLOSES, what);
      SpanData conn = one(Otel.EXPORTER.getFinishedSpanItems(), "connect /big", SpanKind.CLIENT);
      assertEquals(1009L, conn.getAttributes().get(CLOSE_CODE), what);
      Otel.EXPORTER.reset();
    }
  }

  @Test
  void aMessageAtTheDefaultLimitIsDelivered() throws Exception {
    int max = WebSocketLimits.MAX_MESSAGE_SIZE;
    Inbox in = askBig(TracedWebSocket.builder(HTTP), "t" + max, new Inbox());
    assertEquals(max, in.texts.poll(10, TimeUnit.SECONDS).length());
    askBig(TracedWebSocket.builder(HTTP), "b" + max, in);
    assertEquals(max, in.binaries.poll(10, TimeUnit.SECONDS).length);
    assertTrue(in.closes.isEmpty());
  }

  @Test
  void theMessageLimitCanBeRaisedOrLowered() throws Exception {
    int big = WebSocketLimits.MAX_MESSAGE_SIZE * 2;
    Inbox in = askBig(TracedWebSocket.builder(HTTP).maxMessageSize(big), "t" + big, new Inbox());
    assertEquals(big, in.texts.poll(10, TimeUnit.SECONDS).length());
    Inbox small = askBig(TracedWebSocket.builder(HTTP).maxMessageSize(100), "b101", new Inbox());
    assertEquals(1009, small.closes.poll(10, TimeUnit.SECONDS));
    assertTrue(small.binaries.isEmpty());
  }

  @Test
  void aThrowingListenerDoesNotStopTheConnection() throws Exception {
    Inbox in =
        new Inbox() {
          int n;

          @Override
          public void onText(TracedWebSocket ws, Received m) {
            if (n++ == 0) {
              throw new IllegalStateException("listener bug");
            }
            super.onText(ws, m);
          }
        };
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).connect(uri("/big"), in).get(10, TimeUnit.SECONDS);
    ws.sendText("t3").get(10, TimeUnit.SECONDS);
    ws.sendText("t4").get(10, TimeUnit.SECONDS);
    assertEquals("xxxx", in.texts.poll(10, TimeUnit.SECONDS));
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    assertEquals(1000, in.closes.poll(10, TimeUnit.SECONDS));
    List<SpanData> process = all(Otel.EXPORTER.getFinishedSpanItems(), "process /big", SpanKind.CONSUMER);
    assertTrue(
        process.stream().anyMatch(s -> s.getStatus().getStatusCode() == StatusCode.ERROR),
        Otel.names(Otel.EXPORTER.getFinishedSpanItems()).toString());
  }

  @Test
  void aTracedServerSetsTheSessionLimitsAndRefusesLargerMessages() throws Exception {
    Inbox in = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).connect(uri("/conn"), in).get(10, TimeUnit.SECONDS);
    ws.sendText("x".repeat(WebSocketLimits.MAX_MESSAGE_SIZE + 1)).get(10, TimeUnit.SECONDS);
    assertEquals(1009, in.closes.poll(10, TimeUnit.SECONDS));
    assertTrue(Endpoints.TRACED_TEXT.isEmpty());
    // Wait for the server to record its close, so no span leaks into the next test.
    for (int i = 0; i < 100 && all(Otel.EXPORTER.getFinishedSpanItems(), "accept /conn", SpanKind.SERVER).isEmpty(); i++) {
      Thread.sleep(50);
    }
    long[] limits = Endpoints.TRACED_LIMITS.get(0);
    assertEquals(WebSocketLimits.MAX_MESSAGE_SIZE, limits[0]);
    assertEquals(WebSocketLimits.MAX_MESSAGE_SIZE, limits[1]);
  }

  @Test
  void theServerLimitCanBeSetInTheConfigurator() throws Exception {
    Inbox in = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).connect(uri("/small"), in).get(10, TimeUnit.SECONDS);
    ws.sendText("x".repeat(100)).get(10, TimeUnit.SECONDS);
    assertNotNull(in.texts.poll(10, TimeUnit.SECONDS));
    // In two fragments: Tyrus checks the session's limit as it reassembles a message.
    ws.webSocket().sendText("x".repeat(60), false).get(10, TimeUnit.SECONDS);
    ws.webSocket().sendText("x".repeat(41), true).get(10, TimeUnit.SECONDS);
    assertEquals(1009, in.closes.poll(10, TimeUnit.SECONDS));
    assertEquals(List.of("x".repeat(100)), Endpoints.TRACED_TEXT);
    assertEquals(100, Endpoints.TRACED_LIMITS.get(0)[0]);
    assertEquals(100, Endpoints.TRACED_LIMITS.get(0)[1]);
    for (int i = 0; i < 100 && all(Otel.EXPORTER.getFinishedSpanItems(), "accept /small", SpanKind.SERVER).isEmpty(); i++) {
      Thread.sleep(50);
    }
  }

  @Test
  void theHandshakeTimesOut() throws Exception {
    // A peer that accepts the TCP connection and never answers the upgrade.
    try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      long start = System.nanoTime();
      CompletableFuture<TracedWebSocket> f =
          TracedWebSocket.builder(HTTP)
              .tracer(Otel.TRACER)
              .handshakeTimeout(java.time.Duration.ofMillis(300))
              .connect(URI.create("ws://127.0.0.1:" + silent.getLocalPort() + "/"), new Inbox());
      java.util.concurrent.ExecutionException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              java.util.concurrent.ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof java.net.http.HttpTimeoutException, e.toString());
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
    }
  }

  @Test
  void queuedSendsAreBounded() throws Exception {
    Inbox in = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP)
            .tracer(Otel.TRACER)
            .maxQueuedSendBytes(10)
            .connect(uri("/big"), in)
            .get(10, TimeUnit.SECONDS);
    ws.sendText("t3").get(10, TimeUnit.SECONDS);
    assertEquals("xxx", in.texts.poll(10, TimeUnit.SECONDS));
    java.util.concurrent.ExecutionException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            java.util.concurrent.ExecutionException.class,
            () -> ws.sendText("t" + "0".repeat(20)).get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof java.io.IOException, e.toString());
  }

  @Test
  void aTracedServerRefusesAnOverLimitMessageInOneFrame() throws Exception {
    // Tyrus checks the session's limit only while reassembling fragments: TracedSession also does.
    Inbox in = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(Otel.TRACER).connect(uri("/small"), in).get(10, TimeUnit.SECONDS);
    ws.sendText("x".repeat(101)).get(10, TimeUnit.SECONDS);
    assertEquals(1009, in.closes.poll(10, TimeUnit.SECONDS));
    assertTrue(Endpoints.TRACED_TEXT.isEmpty());
    assertTrue(in.texts.isEmpty());
    for (int i = 0; i < 100 && all(Otel.EXPORTER.getFinishedSpanItems(), "accept /small", SpanKind.SERVER).isEmpty(); i++) {
      Thread.sleep(50);
    }
  }
}
