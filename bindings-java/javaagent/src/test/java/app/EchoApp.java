package app;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.apache.catalina.Context;
import org.apache.catalina.servlets.DefaultServlet;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.websocket.server.WsSci;
import org.glassfish.tyrus.server.Server;

/**
 * A WebSocket application that knows nothing of tracing: the echo endpoints of {@link AppConfig}
 * on 127.0.0.1, in Tyrus (Grizzly) or embedded Tomcat, and a plain JDK client ({@link
 * PlainClient}) for each URL read from standard input. Prints {@code LISTENING <port>} once up;
 * stops when its standard input closes.
 *
 * <p>{@code java app.EchoApp tyrus|tomcat}
 */
public final class EchoApp {
  private EchoApp() {}

  /** {@code {"got":"<message>"}}: the reply is JSON whatever the message was. */
  static String reply(String message) {
    StringBuilder b = new StringBuilder("{\"got\":\"");
    for (char c : message.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append("\"}").toString();
  }

  /** The bytes in reverse order (so an echo is told from a reflection). */
  static ByteBuffer reversed(ByteBuffer message) {
    byte[] out = new byte[message.remaining()];
    for (int i = out.length - 1; i >= 0; i--) {
      out[i] = message.get();
    }
    return ByteBuffer.wrap(out);
  }

  public static void main(String[] args) throws Exception {
    String container = args.length > 0 ? args[0] : "tyrus";
    AutoCloseable stop;
    int port;
    switch (container) {
      case "tyrus" -> {
        Server server = null;
        for (int attempt = 0; server == null; attempt++) {
          port = 20000 + (int) (Math.random() * 20000);
          Server s = new Server("127.0.0.1", port, "/", Map.of(), AppConfig.class);
          try {
            s.start();
            server = s;
          } catch (Exception e) {
            if (attempt > 5) {
              throw e;
            }
          }
        }
        Server started = server;
        port = started.getPort();
        stop = started::stop;
      }
      case "tomcat" -> {
        Tomcat tomcat = new Tomcat();
        Path base = Files.createTempDirectory("echo-tomcat");
        tomcat.setBaseDir(base.toString());
        tomcat.getConnector().setPort(0);
        tomcat.getConnector().setProperty("address", "127.0.0.1");
        Context ctx = tomcat.addContext("", base.toString());
        // Requests reach Tomcat's WebSocket upgrade filter only through a mapped servlet.
        Tomcat.addServlet(ctx, "default", new DefaultServlet());
        ctx.addServletMappingDecoded("/", "default");
        ctx.addServletContainerInitializer(
            new WsSci(), Set.of(AppConfig.class, AnnotatedEcho.class, ChatEcho.class, ProgrammaticEcho.class));
        tomcat.start();
        port = tomcat.getConnector().getLocalPort();
        stop = () -> {
          tomcat.stop();
          tomcat.destroy();
        };
      }
      default -> throw new IllegalArgumentException("container: tyrus or tomcat, not " + container);
    }
    System.out.println("LISTENING " + port);
    System.out.flush();
    // Each line read is a WebSocket URL the plain client talks to; the end of input stops.
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      try {
        PlainClient.talk(URI.create(line.strip()));
      } catch (Exception e) {
        System.out.println("ERROR " + e);
      }
      System.out.println("DONE");
      System.out.flush();
    }
    stop.close();
  }
}
