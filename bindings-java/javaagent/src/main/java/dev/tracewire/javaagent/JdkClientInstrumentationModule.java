package dev.tracewire.javaagent;

import io.opentelemetry.javaagent.extension.instrumentation.InstrumentationModule;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.internal.ExperimentalInstrumentationModule;
import java.util.List;

/**
 * tracewire on the JDK's {@code java.net.http.WebSocket} client: {@code WebSocket.Builder} and
 * {@code WebSocket} (the JDK's {@code jdk.internal.net.http.websocket} implementations, which the
 * agent lets instrumentations reach). Its own module: the JDK's classes are in the platform class
 * loader, not the application's, and get their own copy of the binding. Switched with the same
 * {@code otel.instrumentation.tracewire.enabled}.
 */
public final class JdkClientInstrumentationModule extends InstrumentationModule
    implements ExperimentalInstrumentationModule {
  public JdkClientInstrumentationModule() {
    super("tracewire", "tracewire-java-http-client");
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
  public List<TypeInstrumentation> typeInstrumentations() {
    return List.of(new JdkClientInstrumentation());
  }

  @Override
  public List<String> getAdditionalHelperClassNames() {
    return TracewireInstrumentationModule.helperClassNames();
  }
}
