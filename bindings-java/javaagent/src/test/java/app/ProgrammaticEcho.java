package app;

import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.Session;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/** A plain programmatic echo: a lambda text handler (async send), an anonymous binary one (basic send). */
public class ProgrammaticEcho extends Endpoint {
  @Override
  public void onOpen(Session session, EndpointConfig config) {
    session.addMessageHandler(
        String.class, message -> session.getAsyncRemote().sendText(EchoApp.reply(message)));
    session.addMessageHandler(
        ByteBuffer.class,
        new MessageHandler.Whole<ByteBuffer>() {
          @Override
          public void onMessage(ByteBuffer message) {
            try {
              session.getBasicRemote().sendBinary(EchoApp.reversed(message));
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
        });
  }
}
