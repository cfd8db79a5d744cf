package dev.tracewire.websocket;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tracewire.Envelopes;
import dev.tracewire.Received;
import dev.tracewire.TracingModel;
import jakarta.websocket.CloseReason;
import jakarta.websocket.OnClose;
import jakarta.websocket.OnError;
import jakarta.websocket.OnMessage;
import jakarta.websocket.OnOpen;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Test endpoints: traced echo in both models, and a plain (uninstrumented) echo. */
final class Endpoints {
  static final ObjectMapper JSON = new ObjectMapper();
  /** Text payloads the plain server received, exactly. */
  static final List<String> PLAIN_RECEIVED = new CopyOnWriteArrayList<>();
  /** Binary payloads the traced servers handed to the application. */
  static final List<byte[]> TRACED_BINARY = new CopyOnWriteArrayList<>();
  /** Text payloads the traced servers handed to the application. */
  static final List<String> TRACED_TEXT = new CopyOnWriteArrayList<>();

  /** Max text/binary message sizes of traced sessions when opened. */
  static final List<long[]> TRACED_LIMITS = new CopyOnWriteArrayList<>();
  /** Close codes the big-message server received. */
  static final List<Integer> BIG_CLOSES = new CopyOnWriteArrayList<>();

  private Endpoints() {}

  /** Connection model, test tracer. */
  public static final class ConnectionConfigurator extends TracingConfigurator {
    public ConnectionConfigurator() {
      super(Otel.TRACER, TracingModel.CONNECTION, Envelopes.ALL, "");
    }
  }

  /** Message model, test tracer. */
  public static final class MessageConfigurator extends TracingConfigurator {
    public MessageConfigurator() {
      super(Otel.TRACER, TracingModel.MESSAGE, Envelopes.ALL, "");
    }
  }

  /** Connection model, envelope members left in received payloads. */
  public static final class KeepEnvelopeConfigurator extends TracingConfigurator {
    public KeepEnvelopeConfigurator() {
      super(Otel.TRACER, TracingModel.CONNECTION, Envelopes.ALL, "", false);
    }
  }

  /** Connection model, a 100-byte message limit. */
  public static final class SmallConfigurator extends TracingConfigurator {
    public SmallConfigurator() {
      super(Otel.TRACER, TracingModel.CONNECTION, Envelopes.ALL, "");
      maxMessageSize(100);
    }
  }

  static String reply(String got) {
    ObjectNode o = JSON.createObjectNode();
    o.put("echo", got);
    return o.toString();
  }

  /** The traced echo logic shared by both models (Jakarta annotations are not inherited). */
  static void open(Session s) {
    TracedSession.open(s);
    TRACED_LIMITS.add(new long[] {s.getMaxTextMessageBufferSize(), s.getMaxBinaryMessageBufferSize()});
  }

  static void text(Session s, String message) throws IOException {
    TracedSession t = TracedSession.of(s);
    try (Received r = t.receiveText(message)) {
      TRACED_TEXT.add(r.text());
      t.sendText(reply(r.text()));
    }
  }

  static void binary(Session s, ByteBuffer message) throws IOException {
    TracedSession t = TracedSession.of(s);
    try (Received r = t.receiveBinary(message)) {
      byte[] b = new byte[r.data().remaining()];
      r.data().get(b);
      TRACED_BINARY.add(b);
      t.sendBinary(ByteBuffer.wrap(b));
    }
  }

  @ServerEndpoint(value = "/conn", configurator = ConnectionConfigurator.class)
  public static final class ConnectionEcho {
    @OnOpen
    public void onOpen(Session s) {
      open(s);
    }

    @OnMessage
    public void onText(Session s, String message) throws IOException {
      text(s, message);
    }

    @OnMessage
    public void onBinary(Session s, ByteBuffer message) throws IOException {
      binary(s, message);
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }

    @OnError
    public void onError(Session s, Throwable t) {
      TracedSession.of(s).error(t);
    }
  }

  @ServerEndpoint(value = "/msg", configurator = MessageConfigurator.class)
  public static final class MessageEcho {
    @OnOpen
    public void onOpen(Session s) {
      open(s);
    }

    @OnMessage
    public void onText(Session s, String message) throws IOException {
      text(s, message);
    }

    @OnMessage
    public void onBinary(Session s, ByteBuffer message) throws IOException {
      binary(s, message);
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }

    @OnError
    public void onError(Session s, Throwable t) {
      TracedSession.of(s).error(t);
    }
  }

  @ServerEndpoint(value = "/keep", configurator = KeepEnvelopeConfigurator.class)
  public static final class KeepEnvelopeEcho {
    @OnOpen
    public void onOpen(Session s) {
      open(s);
    }

    @OnMessage
    public void onText(Session s, String message) throws IOException {
      text(s, message);
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }
  }

  @ServerEndpoint(value = "/small", configurator = SmallConfigurator.class)
  public static final class SmallEcho {
    @OnOpen
    public void onOpen(Session s) {
      open(s);
    }

    @OnMessage
    public void onText(Session s, String message) throws IOException {
      text(s, message);
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }

    @OnError
    public void onError(Session s, Throwable t) {
      TracedSession.of(s).error(t);
    }
  }

  /** Subprotocols the {@code /mcp} endpoints' sessions saw: the application's, then the wire's. */
  static final List<String> SUBPROTOCOLS = new CopyOnWriteArrayList<>();

  /** A traced server speaking the application subprotocol {@code mcp}. */
  @ServerEndpoint(value = "/mcp", subprotocols = {"mcp"}, configurator = ConnectionConfigurator.class)
  public static final class McpEcho {
    @OnOpen
    public void onOpen(Session s) {
      open(s);
      SUBPROTOCOLS.add(TracedSession.of(s).subprotocol());
      SUBPROTOCOLS.add(s.getNegotiatedSubprotocol());
    }

    @OnMessage
    public void onText(Session s, String message) throws IOException {
      text(s, message);
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }
  }

  /** An uninstrumented server speaking {@code mcp}. */
  @ServerEndpoint(value = "/plain-mcp", subprotocols = {"mcp"})
  public static final class PlainMcpEcho {
    @OnMessage
    public String text(String message) {
      PLAIN_RECEIVED.add(message);
      return reply(message);
    }
  }

  /** An uninstrumented server. */
  @ServerEndpoint("/plain")
  public static final class PlainEcho {
    @OnMessage
    public String text(String message) {
      PLAIN_RECEIVED.add(message);
      return reply(message);
    }

    @OnMessage
    public ByteBuffer binary(ByteBuffer message) {
      return message;
    }
  }

  /**
   * An uninstrumented server sending a message of the size asked: {@code "t<n>"} a text of
   * {@code n} bytes, {@code "b<n>"} a binary one; it records the close codes it receives.
   */
  @ServerEndpoint("/big")
  public static final class Big {
    @OnMessage
    public void ask(Session s, String what) throws IOException {
      int n = Integer.parseInt(what.substring(1));
      if (what.charAt(0) == 't') {
        s.getBasicRemote().sendText("x".repeat(n));
      } else {
        s.getBasicRemote().sendBinary(ByteBuffer.allocate(n));
      }
    }

    @OnClose
    public void onClose(Session s, CloseReason reason) {
      BIG_CLOSES.add(reason.getCloseCode().getCode());
    }
  }
}
