package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.hasClassesNamed;

import io.opentelemetry.javaagent.extension.instrumentation.InstrumentationModule;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.internal.ExperimentalInstrumentationModule;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * tracewire on Jakarta WebSocket server endpoints, for the OpenTelemetry Java agent: the hooks are
 * on the Jakarta API's own types ({@code ServerEndpointConfig.Configurator}, {@code Endpoint},
 * {@code Session}, {@code MessageHandler.Whole}, {@code RemoteEndpoint}), so one module covers
 * every container that drives endpoints through them (Tyrus, Tomcat). Disabled with {@code
 * otel.instrumentation.tracewire.enabled=false}.
 *
 * <p>An invokedynamic ("indy") module: the advice and the tracewire binding are defined in a class
 * loader of the agent's per application class loader, which sees both the agent's OpenTelemetry
 * API and the application's Jakarta API, so the binding's {@code dev.tracewire.websocket} classes
 * work on the container's own types, and an application that ships tracewire itself keeps its
 * copy.
 */
public final class TracewireInstrumentationModule extends InstrumentationModule
    implements ExperimentalInstrumentationModule {
  private static final String HELPERS = "/META-INF/tracewire-javaagent/helpers.txt";

  public TracewireInstrumentationModule() {
    super("tracewire", "tracewire-jakarta-websocket");
  }

  @Override
  public boolean isIndyModule() {
    return true;
  }

  @Override
  public boolean isIndyReady() {
    return true;
  }

  @Override
  public ElementMatcher.Junction<ClassLoader> classLoaderMatcher() {
    return hasClassesNamed("jakarta.websocket.server.ServerEndpointConfig");
  }

  @Override
  public List<TypeInstrumentation> typeInstrumentations() {
    return List.of(
        new ConfiguratorInstrumentation(),
        new EndpointInstrumentation(),
        new SessionInstrumentation(),
        new MessageHandlerInstrumentation(),
        new RemoteEndpointInstrumentation());
  }

  /**
   * Every class of the binding and of this extension (listed at build time): all are defined in
   * the module's class loader, where they link against the application's Jakarta classes.
   */
  @Override
  public List<String> getAdditionalHelperClassNames() {
    return helperClassNames();
  }

  static List<String> helperClassNames() {
    try (InputStream in = TracewireInstrumentationModule.class.getResourceAsStream(HELPERS)) {
      if (in == null) {
        throw new IllegalStateException("tracewire: " + HELPERS + " is missing from the extension jar");
      }
      return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))
          .lines()
          .map(String::strip)
          .filter(l -> l.endsWith(".class"))
          .map(l -> l.substring(0, l.length() - ".class".length()).replace('/', '.'))
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("tracewire: cannot read " + HELPERS, e);
    }
  }
}
