package dev.tracewire.demo.llm;

import dev.tracewire.ContextCarrier;
import dev.tracewire.Received;
import dev.tracewire.websocket.TracedSession;
import dev.tracewire.websocket.TracingConfigurator;
import jakarta.websocket.CloseReason;
import jakarta.websocket.OnClose;
import jakarta.websocket.OnError;
import jakarta.websocket.OnMessage;
import jakarta.websocket.OnOpen;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;

/**
 * {@code /llm}: the handshake context comes in through {@link TracingConfigurator}; each
 * {@code chat} is handled in its process span, which is captured into the queued request so the
 * worker's span continues the trace on another thread.
 */
@ServerEndpoint(value = "/llm", configurator = TracingConfigurator.class)
public class LlmEndpoint {
  private static volatile Generator generator;

  /** Tyrus creates endpoints itself, so the generator is handed over before the server starts. */
  static void use(Generator g) {
    generator = g;
  }

  @OnOpen
  public void open(Session session) {
    TracedSession.open(session);
  }

  @OnMessage
  public void text(Session session, String message) {
    TracedSession traced = TracedSession.of(session);
    try (Received received = traced.receiveText(message)) {
      StandInModel.Chat chat = StandInModel.parse(received.text());
      if (chat != null) {
        generator.submit(new Generator.Request(traced, chat, ContextCarrier.capture()));
      }
    }
  }

  @OnMessage
  public void binary(Session session, byte[] message) {
    System.err.println("llm: ignored a binary message of " + message.length + " bytes");
  }

  @OnClose
  public void close(Session session, CloseReason reason) {
    TracedSession.of(session).close(reason);
  }

  @OnError
  public void error(Session session, Throwable error) {
    System.err.println("llm: session error: " + error);
    TracedSession.of(session).error(error);
  }
}
