package app;

import jakarta.websocket.Endpoint;
import jakarta.websocket.EndpointConfig;
import jakarta.websocket.MessageHandler;
import jakarta.websocket.Session;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ExecutionException;

/** A plain programmatic echo: a lambda text handler (async send), an anonymous binary one (basic send). */
public class ProgrammaticEcho extends Endpoint {
  @Override
  public void onOpen(Session session, EndpointConfig config) {
    // Waits for the asynchronous send: Tomcat refuses a send (IllegalStateException) while the
    // previous one is still completing, and the next reply goes through the basic remote.
    session.addMessageHandler(
        String.class,
        message -> {
          try {
            session.getAsyncRemote().sendText(EchoApp.reply(message)).get();
          } catch (InterruptedException | ExecutionException e) {
            throw new IllegalStateException(e);
          }
        });
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
