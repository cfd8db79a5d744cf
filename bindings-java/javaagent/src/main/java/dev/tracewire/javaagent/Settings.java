package dev.tracewire.javaagent;

import dev.tracewire.MessageCodec;
import dev.tracewire.TracingModel;
import dev.tracewire.Trust;
import dev.tracewire.websocket.WebSocketLimits;
import io.opentelemetry.instrumentation.api.incubator.config.internal.InstrumentationConfig;
import io.opentelemetry.javaagent.bootstrap.internal.AgentInstrumentationConfig;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The extension's settings, {@code otel.instrumentation.tracewire.*}, read once with the agent's
 * configuration (system properties, {@code OTEL_INSTRUMENTATION_TRACEWIRE_*}, the configuration
 * file); the same for servers and clients.
 */
record Settings(
    TracingModel model,
    Trust trust,
    String jsonPath,
    boolean stripEnvelope,
    boolean mcp,
    int maxMessageSize) {
  static final String PREFIX = "otel.instrumentation.tracewire.";
  private static final Logger LOG = Logger.getLogger("dev.tracewire.javaagent");
  private static final Settings INSTANCE = read();

  /** The settings; null when one is invalid (logged once: then nothing is traced). */
  static Settings get() {
    return INSTANCE;
  }

  private static Settings read() {
    InstrumentationConfig c = AgentInstrumentationConfig.get();
    try {
      String trust = c.getString(PREFIX + "trust", "trusted").strip();
      Trust t;
      if (trust.equalsIgnoreCase("untrusted")) {
        t = Trust.untrusted();
      } else if (trust.equalsIgnoreCase("trusted")) {
        t = Trust.trusted();
      } else {
        throw new IllegalArgumentException(
            PREFIX + "trust must be trusted or untrusted, not \"" + trust + "\"");
      }
      int max = c.getInt(PREFIX + "max-message-size", WebSocketLimits.MAX_MESSAGE_SIZE);
      if (max <= 0) {
        throw new IllegalArgumentException(PREFIX + "max-message-size must be positive: " + max);
      }
      return new Settings(
          TracingModel.parse(c.getString(PREFIX + "model", "connection")),
          t,
          c.getString(PREFIX + "json-path", ""),
          c.getBoolean(PREFIX + "strip-envelope", MessageCodec.stripByDefault()),
          c.getBoolean(PREFIX + "mcp", false),
          max);
    } catch (RuntimeException e) {
      LOG.log(
          Level.SEVERE,
          "tracewire: invalid " + PREFIX + "* setting; WebSockets are not traced: " + e.getMessage(),
          e);
      return null;
    }
  }
}
