package app;

import jakarta.websocket.OnMessage;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A plain annotated echo: no tracing code. Text through the basic remote, binary through the async one. */
@ServerEndpoint("/echo")
public class AnnotatedEcho {
  @OnMessage
  public void text(Session session, String message) throws IOException {
    session.getBasicRemote().sendText(EchoApp.reply(message));
  }

  @OnMessage
  public void binary(Session session, ByteBuffer message) throws Exception {
    // Waited for: Tomcat refuses a send while the previous one is completing.
    session.getAsyncRemote().sendBinary(EchoApp.reversed(message)).get();
  }
}
