package app;

import jakarta.websocket.OnMessage;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.io.IOException;

/** An endpoint with a subprotocol of its own: answers which one the session agreed. */
@ServerEndpoint(value = "/chat", subprotocols = {"chat"})
public class ChatEcho {
  @OnMessage
  public void text(Session session, String message) throws IOException {
    session.getBasicRemote().sendText(EchoApp.reply(session.getNegotiatedSubprotocol()));
  }
}
