package dev.tracewire.javaagent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tracewire.Envelopes;
import dev.tracewire.Received;
import dev.tracewire.TraceContext;
import dev.tracewire.TracingModel;
import dev.tracewire.javaagent.OtlpReceiver.Exported;
import dev.tracewire.websocket.TracedSession;
import dev.tracewire.websocket.TracedWebSocket;
import dev.tracewire.websocket.TracingConfigurator;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import jakarta.websocket.CloseReason;
import jakarta.websocket.OnClose;
import jakarta.websocket.OnMessage;
import jakarta.websocket.OnOpen;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.glassfish.tyrus.server.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The extension under the real OpenTelemetry Java agent: the application ({@code app.*}, no
 * tracing code) runs in a forked JVM with {@code -javaagent} and the extension jar, in Tyrus and
 * in embedded Tomcat, and exports over OTLP/HTTP to a receiver in this JVM. This JVM is the peer:
 * the binding's traced JDK client (its spans in memory) and a plain JDK client.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AgentExtensionTest {
  private static final String SESSION = "websocket.session.id";
  private static final String CLOSE_CODE = "websocket.close.code";
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final InMemorySpanExporter CLIENT_SPANS = InMemorySpanExporter.create();
  private static final Tracer TRACER =
      SdkTracerProvider.builder()
          .addSpanProcessor(SimpleSpanProcessor.create(CLIENT_SPANS))
          .build()
          .get("agent-extension-test");

  private static OtlpReceiver otlp;
  private static App tyrus;
  private static App tomcat;
  private static App agentOnly;
  private static App badSetting;
  private static App mixed;
  /** This JVM's server: the binding's API echo at /api, the plain application echo at /echo. */
  private static Server local;
  private static int localPort;

  private static Server startLocal() throws Exception {
    for (int attempt = 0; ; attempt++) {
      localPort = 20000 + (int) (Math.random() * 20000);
      Server s = new Server("127.0.0.1", localPort, "/", Map.of(), ApiEcho.class, app.AnnotatedEcho.class);
      try {
        s.start();
        return s;
      } catch (Exception e) {
        if (attempt > 5) {
          throw e;
        }
      }
    }
  }

  private static URI local(String path) {
    return URI.create("ws://127.0.0.1:" + localPort + path);
  }

  /** One forked application JVM under the agent. */
  record App(String container, TracingModel model, Process process, int port, BufferedReader out) {
    /** Has the application's plain JDK client talk to {@code uri}; what it printed. */
    synchronized List<String> talk(URI uri) throws IOException {
      process.getOutputStream().write((uri + "\n").getBytes(StandardCharsets.UTF_8));
      process.getOutputStream().flush();
      List<String> lines = new ArrayList<>();
      String line;
      while ((line = out.readLine()) != null && !line.equals("DONE")) {
        lines.add(line);
      }
      return lines;
    }

    String service() {
      return "echo-" + container;
    }

    URI uri(String path) {
      return URI.create("ws://127.0.0.1:" + port + path);
    }

    @Override
    public String toString() {
      return container + " (" + model.name().toLowerCase() + " model)";
    }

    static Process fork(String container, TracingModel model, String otlpEndpoint) throws IOException {
      return fork(container, container, model, otlpEndpoint, true);
    }

    /**
     * {@code withExtension} false: the agent alone, the overhead test's baseline; {@code extra}:
     * more system properties.
     */
    static Process fork(
        String name,
        String container,
        TracingModel model,
        String otlpEndpoint,
        boolean withExtension,
        String... extra)
        throws IOException {
      return fork(name, "app.EchoApp", container, "", model, otlpEndpoint, withExtension, extra);
    }

    /** {@code mainClass} with the containers, the test classes and {@code morePath} on its class path. */
    static Process fork(
        String name,
        String mainClass,
        String container,
        String morePath,
        TracingModel model,
        String otlpEndpoint,
        boolean withExtension,
        String... extra)
        throws IOException {
      String appClasspath =
          Files.readString(Path.of(System.getProperty("tracewire.appClasspath"))).strip()
              + File.pathSeparator
              + System.getProperty("tracewire.appClasses")
              + (morePath.isEmpty() ? "" : File.pathSeparator + morePath);
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      cmd.add("-javaagent:" + System.getProperty("tracewire.agent"));
      if (withExtension) {
        cmd.add("-Dotel.javaagent.extensions=" + System.getProperty("tracewire.extension"));
      }
      cmd.addAll(
          List.of(
              "-Dotel.service.name=echo-" + name,
              "-Dotel.traces.exporter=otlp",
              "-Dotel.exporter.otlp.protocol=http/protobuf",
              "-Dotel.exporter.otlp.traces.endpoint=" + otlpEndpoint,
              "-Dotel.metrics.exporter=none",
              "-Dotel.logs.exporter=none",
              "-Dotel.bsp.schedule.delay=100",
              "-Dotel.instrumentation.tracewire.model=" + model.name().toLowerCase()));
      cmd.addAll(List.of(extra));
      cmd.addAll(List.of("-cp", appClasspath, mainClass, container));
      return new ProcessBuilder(cmd)
          .redirectError(Path.of("target", "app-" + name + ".log").toFile())
          .start();
    }

    static App await(String container, TracingModel model, Process p) throws IOException {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("LISTENING ")) {
          return new App(container, model, p, Integer.parseInt(line.substring(10).strip()), out);
        }
      }
      throw new IllegalStateException(
          "the " + container + " application stopped before listening; see target/app-" + container + ".log");
    }
  }

  // Five agent JVMs start at once on a machine that may be busy.
  @BeforeAll
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  static void start() throws Exception {
    otlp = new OtlpReceiver();
    Process t = App.fork("tyrus", TracingModel.MESSAGE, otlp.endpoint());
    Process c = App.fork("tomcat", TracingModel.CONNECTION, otlp.endpoint());
    Process a = App.fork("tyrus-agent-only", "tyrus", TracingModel.CONNECTION, otlp.endpoint(), false);
    Process b =
        App.fork("tyrus-bad-setting", "tyrus", TracingModel.CONNECTION, otlp.endpoint(), true,
            "-Dotel.instrumentation.tracewire.trust=sometimes");
    // The mixed application ships the binding and the OpenTelemetry API (the agent bridges it).
    String mixedPath =
        Stream.concat(
                Stream.of(System.getProperty("tracewire.jar")),
                Stream.of(System.getProperty("java.class.path").split(File.pathSeparator))
                    .filter(e -> e.matches(".*opentelemetry-(api|context|common)-1[^/]*\\.jar")))
            .collect(Collectors.joining(File.pathSeparator));
    Process m =
        App.fork("mixed", "mixed.MixedApp", "tyrus", mixedPath, TracingModel.CONNECTION, otlp.endpoint(), true);
    local = startLocal();
    tyrus = App.await("tyrus", TracingModel.MESSAGE, t);
    tomcat = App.await("tomcat", TracingModel.CONNECTION, c);
    agentOnly = App.await("tyrus-agent-only", TracingModel.CONNECTION, a);
    badSetting = App.await("tyrus-bad-setting", TracingModel.CONNECTION, b);
    mixed = App.await("mixed", TracingModel.CONNECTION, m);
  }

  @AfterAll
  static void stop() throws Exception {
    for (App a : new App[] {tyrus, tomcat, agentOnly, badSetting, mixed}) {
      if (a != null) {
        a.process().getOutputStream().close();
        if (!a.process().waitFor(10, TimeUnit.SECONDS)) {
          a.process().destroyForcibly();
        }
      }
    }
    if (otlp != null) {
      otlp.close();
    }
    if (local != null) {
      local.stop();
    }
  }

  static Stream<App> apps() {
    return Stream.of(tyrus, tomcat);
  }

  /** What the traced client received. */
  static final class Inbox implements TracedWebSocket.Listener {
    final BlockingQueue<String> texts = new LinkedBlockingQueue<>();
    final BlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
    final BlockingQueue<TraceContext> contexts = new LinkedBlockingQueue<>();
    final BlockingQueue<Integer> closes = new LinkedBlockingQueue<>();

    @Override
    public void onText(TracedWebSocket ws, Received message) {
      contexts.add(message.context());
      texts.add(message.text());
    }

    @Override
    public void onBinary(TracedWebSocket ws, Received message) {
      contexts.add(message.context());
      ByteBuffer b = message.data();
      byte[] a = new byte[b.remaining()];
      b.get(a);
      binaries.add(a);
    }

    @Override
    public void onClose(TracedWebSocket ws, int statusCode, String reason) {
      closes.add(statusCode);
    }
  }

  private static List<SpanData> clientSpans(String traceId) {
    return CLIENT_SPANS.getFinishedSpanItems().stream()
        .filter(s -> s.getTraceId().equals(traceId))
        .toList();
  }

  private static Exported one(List<Exported> spans, String name) {
    List<Exported> found = spans.stream().filter(s -> s.name().equals(name)).toList();
    assertEquals(1, found.size(), name + " in " + spans.stream().map(Exported::name).toList());
    return found.get(0);
  }

  private static List<Exported> all(List<Exported> spans, String name) {
    return spans.stream().filter(s -> s.name().equals(name)).toList();
  }

  /**
   * One exchange with the binding's traced client: a JSON text and a binary message, their echoes
   * and a close. Asserts what each side's application saw, and the spans on both sides.
   */
  private static void tracedExchange(App app, String path) throws Exception {
    Inbox inbox = new Inbox();
    Span op = TRACER.spanBuilder("client-op").startSpan();
    String traceId = op.getSpanContext().getTraceId();
    TracedWebSocket ws;
    try (Scope ignored = op.makeCurrent()) {
      ws =
          TracedWebSocket.builder(HTTP)
              .tracer(TRACER)
              .model(TracingModel.CONNECTION)
              .connect(app.uri(path), inbox)
              .get(10, TimeUnit.SECONDS);
      // The plain endpoint negotiated tracewire's subprotocol through the extension.
      assertEquals(Envelopes.ALL, ws.envelopes(), "the server selected tracewire.v1.json-binary");
      assertEquals("tracewire.v1.json-binary", ws.webSocket().getSubprotocol());
      ws.sendText("{\"q\":\"hi\"}").get(10, TimeUnit.SECONDS);
      // The application got the payload without the envelope, and its reply came back with one.
      assertEquals("{\"got\":\"{\\\"q\\\":\\\"hi\\\"}\"}", inbox.texts.poll(10, TimeUnit.SECONDS));
      TraceContext replyContext = inbox.contexts.poll(1, TimeUnit.SECONDS);
      assertNotNull(replyContext);
      assertTrue(replyContext.hasSpanContext(), "the server's reply carried a context in its envelope");
      ws.sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3})).get(10, TimeUnit.SECONDS);
      assertArrayEquals(new byte[] {3, 2, 1}, inbox.binaries.poll(10, TimeUnit.SECONDS),
          "the application got exactly the three bytes, without the binary envelope");
      assertTrue(inbox.contexts.poll(1, TimeUnit.SECONDS).hasSpanContext(), "binary reply's envelope");
      ws.close(1000, "bye").get(10, TimeUnit.SECONDS);
      assertEquals(1000, inbox.closes.poll(10, TimeUnit.SECONDS));
    } finally {
      op.end();
    }

    String accept = "accept " + path;
    String process = "process " + path;
    String send = "send " + path;
    List<Exported> server =
        otlp.await(
            s -> {
              List<Exported> mine = s.stream().filter(x -> x.traceId().equals(traceId)).toList();
              return all(mine, process).size() >= 2
                  && all(mine, send).size() >= 2
                  && mine.stream().anyMatch(x -> x.name().equals(accept) && x.attr(CLOSE_CODE) != null
                      || x.name().equals("close " + path));
            },
            "the " + app + " spans of " + path)
            .stream()
            .filter(x -> x.traceId().equals(traceId) && x.service().equals(app.service()))
            .toList();
    List<SpanData> client = clientSpans(traceId);
    SpanData connect =
        client.stream().filter(s -> s.getName().equals("connect " + path)).findFirst().orElseThrow();
    Set<String> clientSends =
        client.stream().filter(s -> s.getName().equals(send) && s.getKind() == SpanKind.PRODUCER)
            .map(SpanData::getSpanId).collect(Collectors.toSet());
    List<SpanData> clientProcesses =
        client.stream().filter(s -> s.getName().equals(process) && s.getKind() == SpanKind.CONSUMER).toList();

    // The server's connection span is the child of the client's, across the handshake.
    Exported acceptSpan = one(server, accept);
    assertEquals(io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_SERVER, acceptSpan.kind());
    assertEquals(connect.getSpanId(), acceptSpan.parentSpanId(), "accept's parent is the client's connect span");
    assertEquals(ws.sessionId(), acceptSpan.attr(SESSION), "the client's session id");
    assertEquals(app.model().name().toLowerCase(), acceptSpan.attr("tracewire.model"));
    // Each message's process span is the child of the client's send span, across the envelope...
    List<Exported> processes = all(server, process);
    assertEquals(2, processes.size());
    for (Exported p : processes) {
      assertTrue(clientSends.contains(p.parentSpanId()), "server process span under a client send: " + p);
      assertEquals(ws.sessionId(), p.attr(SESSION));
    }
    // ...the application's reply is sent inside it...
    Set<String> processIds = processes.stream().map(Exported::spanId).collect(Collectors.toSet());
    List<Exported> sends = all(server, send);
    assertEquals(2, sends.size());
    for (Exported s : sends) {
      assertTrue(processIds.contains(s.parentSpanId()), "the reply's send span under the process span: " + s);
    }
    // ...and the client processes each reply under the server's send span.
    Set<String> serverSendIds = sends.stream().map(Exported::spanId).collect(Collectors.toSet());
    assertEquals(2, clientProcesses.size());
    for (SpanData p : clientProcesses) {
      assertTrue(serverSendIds.contains(p.getParentSpanId()), "client process under the server's send: " + p);
    }
    if (app.model() == TracingModel.MESSAGE) {
      // Message model: each message span links to the connection span; the close is its own span.
      for (Exported p : processes) {
        assertTrue(p.linkedSpanIds().contains(acceptSpan.spanId()) || p.linkedSpanIds().contains(connect.getSpanId()),
            "process links to a connection span: " + p);
      }
      Exported close = one(server, "close " + path);
      assertEquals("1000", close.attr(CLOSE_CODE));
      assertEquals(acceptSpan.spanId(), close.parentSpanId());
    } else {
      assertEquals("1000", acceptSpan.attr(CLOSE_CODE), "the close recorded on the connection span");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("apps")
  void annotatedEndpointIsTracedWithoutCode(App app) throws Exception {
    tracedExchange(app, "/echo");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("apps")
  void programmaticEndpointIsTracedWithoutCode(App app) throws Exception {
    tracedExchange(app, "/prog");
  }

  /** An invalid setting is logged by name, and then nothing is traced (nor broken). */
  @Test
  void anInvalidSettingIsReportedAndNothingIsTraced() throws Exception {
    assertEquals(
        List.of("SUBPROTOCOL chat", "REPLY {\"got\":\"{\\\"q\\\":\\\"from-app\\\"}\"}", "BINARY 060504", "CLOSED 1000"),
        badSetting.talk(local("/api")),
        "the application's client works as without the extension");
    // The agent's own HTTP client span of the upgrade is exported; no tracewire span is.
    String service = "echo-tyrus-bad-setting";
    List<Exported> exported =
        otlp.await(
            s -> s.stream().anyMatch(x -> x.service().equals(service)
                && x.kind() == io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT),
            "the agent's HTTP client span from " + service);
    assertEquals(
        List.of(),
        exported.stream()
            .filter(x -> x.service().equals(service) && x.attr(SESSION) != null)
            .map(Exported::name)
            .toList());
    PlainListener l = new PlainListener();
    WebSocket ws =
        HTTP.newWebSocketBuilder()
            .subprotocols("tracewire.v1.json-binary")
            .buildAsync(badSetting.uri("/echo"), l)
            .get(10, TimeUnit.SECONDS);
    assertEquals("", ws.getSubprotocol(), "the server selected no tracewire subprotocol");
    ws.sendText("{\"q\":1}", true).get(10, TimeUnit.SECONDS);
    assertEquals("{\"got\":\"{\\\"q\\\":1}\"}", l.texts.poll(10, TimeUnit.SECONDS));
    ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
    String log = Files.readString(Path.of("target", "app-tyrus-bad-setting.log"));
    assertTrue(
        log.contains("otel.instrumentation.tracewire.trust must be trusted or untrusted, not \"sometimes\""),
        "the log names the setting and the value");
  }

  /**
   * An endpoint that uses the binding's {@code TracingConfigurator} itself, under the agent with
   * the extension: traced once, by the application (one accept span, one process and one send
   * span per message), its envelope decoded once.
   */
  @Test
  void anEndpointTracedByTheApplicationIsLeftAlone() throws Exception {
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(TRACER).connect(mixed.uri("/api"), inbox).get(10, TimeUnit.SECONDS);
    assertEquals(Envelopes.ALL, ws.envelopes());
    ws.sendText("{\"q\":2}").get(10, TimeUnit.SECONDS);
    assertEquals("{\"got\":\"{\\\"q\\\":2}\"}", inbox.texts.poll(10, TimeUnit.SECONDS));
    assertTrue(inbox.contexts.poll(1, TimeUnit.SECONDS).hasSpanContext());
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    assertEquals(1000, inbox.closes.poll(10, TimeUnit.SECONDS));
    String session = ws.sessionId();
    List<Exported> spans =
        otlp.await(
                s -> s.stream().anyMatch(x -> session.equals(x.attr(SESSION)) && x.attr(CLOSE_CODE) != null),
                "the mixed application's spans")
            .stream()
            .filter(x -> session.equals(x.attr(SESSION)))
            .toList();
    assertEquals(1, all(spans, "accept /api").size(), spans.stream().map(Exported::name).toList().toString());
    assertEquals(1, all(spans, "process /api").size());
    assertEquals(1, all(spans, "send /api").size());
  }

  /**
   * An endpoint with a subprotocol of its own: the traced client offers it composed with
   * tracewire's, the endpoint sees its own name ({@code getNegotiatedSubprotocol}) as does the
   * client ({@code TracedWebSocket.subprotocol}).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("apps")
  void theEndpointSeesItsOwnSubprotocol(App app) throws Exception {
    Inbox inbox = new Inbox();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP).tracer(TRACER).subprotocols("chat")
            .connect(app.uri("/chat"), inbox).get(10, TimeUnit.SECONDS);
    assertEquals("tracewire.v1.json-binary+chat", ws.webSocket().getSubprotocol());
    assertEquals("chat", ws.subprotocol());
    ws.sendText("{}").get(10, TimeUnit.SECONDS);
    assertEquals("{\"got\":\"chat\"}", inbox.texts.poll(10, TimeUnit.SECONDS));
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
  }

  /** A plain JDK client: what it collects. */
  static final class PlainListener implements WebSocket.Listener {
    final BlockingQueue<String> texts = new LinkedBlockingQueue<>();
    final BlockingQueue<byte[]> binaries = new LinkedBlockingQueue<>();
    private final StringBuilder text = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        texts.add(text.toString());
        text.setLength(0);
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      byte[] a = new byte[data.remaining()];
      data.get(a);
      binaries.add(a);
      ws.request(1);
      return null;
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("apps")
  void plainPeerPassesUntouched(App app) throws Exception {
    for (String path : List.of("/echo", "/prog")) {
      PlainListener l = new PlainListener();
      WebSocket ws = HTTP.newWebSocketBuilder().buildAsync(app.uri(path), l).get(10, TimeUnit.SECONDS);
      assertEquals("", ws.getSubprotocol(), "no subprotocol offered, none selected");
      // Without a negotiated envelope even a tracewire-looking member is the application's own.
      String own = "{\"tracewire\":{\"traceparent\":\"00-11111111111111111111111111111111-2222222222222222-01\"},\"x\":1}";
      ws.sendText(own, true).get(10, TimeUnit.SECONDS);
      String reply = l.texts.poll(10, TimeUnit.SECONDS);
      assertEquals(
          "{\"got\":\"" + own.replace("\"", "\\\"") + "\"}", reply,
          "the application saw the message as sent, and its reply got no envelope");
      ws.sendBinary(ByteBuffer.wrap(new byte[] {9, 8}), true).get(10, TimeUnit.SECONDS);
      assertArrayEquals(new byte[] {8, 9}, l.binaries.poll(10, TimeUnit.SECONDS), "no binary envelope");
      ws.sendClose(1000, "").get(10, TimeUnit.SECONDS);
    }
    // Still traced on the server: a connection span of its own trace (no context came), with a
    // session id of the server's making.
    Exported root =
        otlp.await(
                s -> s.stream().anyMatch(x -> x.service().equals(app.service()) && x.name().equals("accept /prog")
                    && x.parentSpanId().isEmpty()),
                "a root accept span for the plain client on " + app)
            .stream()
            .filter(x -> x.service().equals(app.service()) && x.name().equals("accept /prog") && x.parentSpanId().isEmpty())
            .findFirst()
            .orElseThrow();
    assertNotNull(root.attr(SESSION));
  }

  // The API path for the overhead comparison: the binding used by hand, in this JVM.
  private static final InMemorySpanExporter API_SPANS = InMemorySpanExporter.create();
  private static final SdkTracerProvider API_PROVIDER =
      SdkTracerProvider.builder().addSpanProcessor(BatchSpanProcessor.builder(API_SPANS).build()).build();
  private static final Tracer API_TRACER = API_PROVIDER.get("api-path");

  /** The binding's configurator with this test's tracer (connection model). */
  public static final class ApiConfigurator extends TracingConfigurator {
    public ApiConfigurator() {
      super(API_TRACER, TracingModel.CONNECTION, Envelopes.ALL, "");
    }
  }

  /** The same echo written against the binding's API. */
  @ServerEndpoint(value = "/api", configurator = ApiConfigurator.class, subprotocols = {"chat"})
  public static final class ApiEcho {
    @OnOpen
    public void open(Session s) {
      TracedSession.open(s);
    }

    @OnMessage
    public void text(Session s, String message) throws IOException {
      TracedSession t = TracedSession.of(s);
      try (Received r = t.receiveText(message)) {
        t.sendText("{\"got\":\"" + r.text().replace("\"", "\\\"") + "\"}");
      }
    }

    @OnMessage
    public void binary(Session s, ByteBuffer message) throws IOException {
      TracedSession t = TracedSession.of(s);
      try (Received r = t.receiveBinary(message)) {
        byte[] in = new byte[r.data().remaining()];
        r.data().get(in);
        byte[] out = new byte[in.length];
        for (int i = 0; i < in.length; i++) {
          out[i] = in[in.length - 1 - i];
        }
        t.sendBinary(ByteBuffer.wrap(out));
      }
    }

    @OnClose
    public void close(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }
  }

  /** Mean microseconds per round trip of {@code n} sequential JSON echoes. */
  private static double echoes(URI uri, int n) throws Exception {
    BlockingQueue<String> replies = new LinkedBlockingQueue<>();
    TracedWebSocket ws =
        TracedWebSocket.builder(HTTP)
            .tracer(TRACER)
            .connect(uri, new TracedWebSocket.Listener() {
              @Override
              public void onText(TracedWebSocket w, Received message) {
                replies.add(message.text());
              }
            })
            .get(10, TimeUnit.SECONDS);
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      ws.sendText("{\"i\":" + i + "}").get(10, TimeUnit.SECONDS);
      String reply = replies.poll(10, TimeUnit.SECONDS);
      assertEquals("{\"got\":\"{\\\"i\\\":" + i + "}\"}", reply);
    }
    long elapsed = System.nanoTime() - start;
    ws.close(1000, "").get(10, TimeUnit.SECONDS);
    return elapsed / 1000.0 / n;
  }

  /**
   * The same traced client echoes 2,000 JSON messages, one at a time, with four servers: the plain
   * application under the agent with and without the extension (forked JVMs), and in this JVM the
   * same echo written against the binding's API and the plain application's endpoint. Each path's
   * cost is its difference from its baseline in the same JVM kind.
   */
  @Test
  void overheadOfTheAgentPathAgainstTheApiPath() throws Exception {
    Map<String, URI> paths = new java.util.LinkedHashMap<>();
    paths.put("agent + extension (forked JVM)", tyrus.uri("/echo"));
    paths.put("agent alone (forked JVM)", agentOnly.uri("/echo"));
    paths.put("binding API (this JVM)", local("/api"));
    paths.put("no tracing (this JVM)", local("/echo"));
    for (URI u : paths.values()) {
      echoes(u, 500); // warm-up
    }
    // Three rounds, the paths in turn, each path's best round kept: the machine is shared.
    int n = 2000;
    Map<String, Double> us = new java.util.LinkedHashMap<>();
    for (int round = 0; round < 3; round++) {
      for (Map.Entry<String, URI> e : paths.entrySet()) {
        us.merge(e.getKey(), echoes(e.getValue(), n), Math::min);
      }
    }
    List<String> lines = new ArrayList<>();
    us.forEach((k, v) -> lines.add(String.format("%-32s %7.1f us per round trip", k, v)));
    List<Double> v = List.copyOf(us.values());
    lines.add(String.format("extension's cost per round trip: %.1f us; binding API's: %.1f us"
        + " (best of 3 x %d messages, Tyrus, traced JDK client)", v.get(0) - v.get(1), v.get(2) - v.get(3), n));
    lines.forEach(System.out::println);
    Files.write(Path.of("target", "overhead.txt"), lines);
  }

  /**
   * The application's plain JDK client, traced by the extension: to the binding's API server
   * (envelopes negotiated, spans on both sides joined) and to a plain server (nothing added).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("apps")
  void plainJdkClientIsTracedWithoutCode(App app) throws Exception {
    assertEquals(
        List.of(
            "SUBPROTOCOL chat",
            "REPLY {\"got\":\"{\\\"q\\\":\\\"from-app\\\"}\"}",
            "BINARY 060504",
            "CLOSED 1000"),
        app.talk(local("/api")),
        "the client agreed its own subprotocol (carried by tracewire's), and got the replies without the envelope");
    assertEquals(
        List.of(
            "SUBPROTOCOL ",
            "REPLY {\"got\":\"{\\\"q\\\":\\\"from-app\\\"}\"}",
            "BINARY 060504",
            "CLOSED 1000"),
        app.talk(local("/echo")),
        "a plain server got the messages as the application wrote them");

    // The application's spans, by its session id (in the message model each message has a trace).
    Exported connect =
        otlp.await(
                s -> s.stream().anyMatch(x -> x.service().equals(app.service()) && x.name().equals("connect /api")
                    && x.attr(CLOSE_CODE) != null || x.service().equals(app.service()) && x.name().equals("close /api")),
                "the " + app + " client's connect span")
            .stream()
            .filter(x -> x.service().equals(app.service()) && x.name().equals("connect /api"))
            .findFirst()
            .orElseThrow();
    assertEquals(io.opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT, connect.kind());
    String session = connect.attr(SESSION);
    assertNotNull(session);
    List<Exported> appSpans =
        otlp.await(
                s -> s.stream().filter(x -> session.equals(x.attr(SESSION)) && x.name().equals("process /api")).count() >= 2,
                "the " + app + " client's process spans")
            .stream()
            .filter(x -> x.service().equals(app.service()))
            .toList();
    API_PROVIDER.forceFlush().join(10, TimeUnit.SECONDS);
    List<SpanData> server =
        API_SPANS.getFinishedSpanItems().stream()
            .filter(x -> session.equals(x.getAttributes().get(io.opentelemetry.api.common.AttributeKey.stringKey(SESSION))))
            .toList();
    SpanData accept = server.stream().filter(x -> x.getName().equals("accept /api")).findFirst().orElseThrow();
    // Across the handshake: the server's connection span is under the client's, directly or
    // through the agent's own HTTP client span of the upgrade request.
    assertEquals(connect.traceId(), accept.getTraceId());
    Exported parent =
        appSpans.stream().filter(x -> x.spanId().equals(accept.getParentSpanId())).findFirst().orElseThrow();
    assertTrue(parent == connect || parent.parentSpanId().equals(connect.spanId()),
        "accept's parent is the client's connect span or its child: " + parent);
    Set<String> appSends = appSpans.stream().filter(x -> session.equals(x.attr(SESSION)) && x.name().equals("send /api"))
        .map(Exported::spanId).collect(Collectors.toSet());
    assertEquals(2, appSends.size());
    List<SpanData> serverProcesses = server.stream().filter(x -> x.getName().equals("process /api")).toList();
    assertEquals(2, serverProcesses.size());
    for (SpanData p : serverProcesses) {
      assertTrue(appSends.contains(p.getParentSpanId()), "server process under the client's send: " + p);
    }
    Set<String> serverSends = server.stream().filter(x -> x.getName().equals("send /api"))
        .map(SpanData::getSpanId).collect(Collectors.toSet());
    List<Exported> appProcesses = appSpans.stream()
        .filter(x -> session.equals(x.attr(SESSION)) && x.name().equals("process /api")).toList();
    assertEquals(2, appProcesses.size());
    for (Exported p : appProcesses) {
      assertTrue(serverSends.contains(p.parentSpanId()), "client process under the server's send: " + p);
    }
    assertEquals(app.model().name().toLowerCase(), connect.attr("tracewire.model"));
  }
}
