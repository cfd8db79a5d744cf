package dev.tracewire.demo.llm;

import jakarta.websocket.DeploymentException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import org.glassfish.tyrus.server.Server;

/**
 * The parts of the service contract (demos/README.md) both llm mains share, {@link Llm} and
 * {@link LlmPlain}: arguments, {@code DEMO_PACE}, Tyrus on a free port, the READY line, failing
 * with one line on stderr.
 */
final class Service {
  private Service() {}

  /** What the command line and the environment ask for. */
  record Options(String host, int port, double pace) {}

  /** A main's body. */
  @FunctionalInterface
  interface Body {
    void run(Options options) throws Exception;
  }

  /** Runs {@code body}; a bad argument exits 2, any other failure to start exits 1. */
  static void main(String[] args, Body body) {
    try {
      body.run(options(args));
    } catch (IllegalArgumentException e) {
      System.err.println("llm: " + e.getMessage());
      System.exit(2);
    } catch (Exception e) {
      // Autoconfigure wraps the reason ("Unexpected configuration error"): name it.
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      System.err.println("llm: cannot start: " + e.getMessage() + (cause != e ? ": " + cause : ""));
      System.exit(1);
    }
  }

  private static Options options(String[] args) {
    String host = "127.0.0.1";
    int port = 0;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--host" -> host = required(args[i], value);
        case "--port" -> port = Integer.parseInt(required(args[i], value));
        default -> throw new IllegalArgumentException(
            "unknown argument " + args[i] + "\nusage: llm [--host 127.0.0.1] [--port 0]");
      }
      i++;
    }
    return new Options(host, port, pace());
  }

  /**
   * Starts Tyrus with {@code endpoint}. Its standalone server reads port 0 as "the default,
   * 8025", so for 0 a free port is found first (and another tried if something takes it in
   * between).
   */
  static Server start(Options options, Map<String, Object> properties, Class<?> endpoint) throws Exception {
    for (int attempt = 1; ; attempt++) {
      int chosen = options.port();
      if (chosen == 0) {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName(options.host()))) {
          chosen = probe.getLocalPort();
        }
      }
      Server server = new Server(options.host(), chosen, "/", properties, endpoint);
      try {
        server.start();
        return server;
      } catch (DeploymentException e) {
        if (options.port() != 0 || attempt == 5) {
          throw e;
        }
      }
    }
  }

  /** The READY line run.py waits for. */
  static void ready(Options options, Server server) {
    System.out.println("READY ws://" + options.host() + ":" + server.getPort() + "/llm");
    System.out.flush();
  }

  private static double pace() {
    String raw = System.getenv().getOrDefault("DEMO_PACE", "1");
    try {
      double pace = Double.parseDouble(raw);
      if (pace >= 0) {
        return pace;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("DEMO_PACE=" + raw + ": expected a non-negative number");
  }

  private static String required(String name, String value) {
    if (value == null) {
      throw new IllegalArgumentException(name + " needs a value");
    }
    return value;
  }
}
