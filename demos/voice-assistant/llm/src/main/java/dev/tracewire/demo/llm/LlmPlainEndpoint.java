package dev.tracewire.demo.llm;

import io.opentelemetry.context.Context;
import jakarta.websocket.OnError;
import jakarta.websocket.OnMessage;
import jakarta.websocket.RemoteEndpoint;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.util.concurrent.ExecutorService;

/**
 * {@code /llm}, plain Jakarta: no tracing code. Each {@code chat} is answered on the worker pool;
 * under the OpenTelemetry Java agent with tracewire's extension this handler runs in the
 * message's process span, and the agent's executor instrumentation makes that span current in
 * the task, so the chat span is its child with nothing passed by hand.
 */
@ServerEndpoint("/llm")
public class LlmPlainEndpoint {
  private static volatile StandInModel model;
  private static volatile ExecutorService workers;

  /** Tyrus creates endpoints itself, so the model and the pool are handed over before it starts. */
  static void use(StandInModel m, ExecutorService pool) {
    model = m;
    workers = pool;
  }

  @OnMessage
  public void text(Session session, String message) {
    StandInModel.Chat chat = StandInModel.parse(message);
    if (chat == null) {
      return;
    }
    RemoteEndpoint.Basic remote = session.getBasicRemote();
    workers.execute(
        () -> {
          try {
            model.answer(Context.current(), chat, (reply, last) -> remote.sendText(reply));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // stopping: the pool is shut down
          }
        });
  }

  @OnMessage
  public void binary(Session session, byte[] message) {
    System.err.println("llm: ignored a binary message of " + message.length + " bytes");
  }

  @OnError
  public void error(Session session, Throwable error) {
    System.err.println("llm: session error: " + error);
  }
}
