package mixed;

import dev.tracewire.Received;
import dev.tracewire.websocket.TracedSession;
import dev.tracewire.websocket.TracingConfigurator;
import jakarta.websocket.CloseReason;
import jakarta.websocket.OnClose;
import jakarta.websocket.OnMessage;
import jakarta.websocket.OnOpen;
import jakarta.websocket.Session;
import jakarta.websocket.server.ServerEndpoint;
import java.io.IOException;
import java.util.Map;
import org.glassfish.tyrus.server.Server;

/**
 * An application that uses tracewire's API itself (the binding jar on its class path), run under
 * the agent with the extension: the extension must leave its endpoint alone. Prints {@code
 * LISTENING <port>}; stops when its standard input closes.
 */
public final class MixedApp {
  private MixedApp() {}

  /** An echo traced by hand, with the global (the agent's) tracer. */
  @ServerEndpoint(value = "/api", configurator = TracingConfigurator.class)
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

    @OnClose
    public void close(Session s, CloseReason reason) {
      TracedSession.of(s).close(reason);
    }
  }

  public static void main(String[] args) throws Exception {
    for (int attempt = 0; ; attempt++) {
      int port = 20000 + (int) (Math.random() * 20000);
      Server server = new Server("127.0.0.1", port, "/", Map.of(), ApiEcho.class);
      try {
        server.start();
      } catch (Exception e) {
        if (attempt > 5) {
          throw e;
        }
        continue;
      }
      System.out.println("LISTENING " + port);
      System.out.flush();
      while (System.in.read() >= 0) {
        // Runs until the test closes our standard input.
      }
      server.stop();
      return;
    }
  }
}
