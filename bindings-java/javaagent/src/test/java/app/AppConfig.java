package app;

import jakarta.websocket.Endpoint;
import jakarta.websocket.server.ServerApplicationConfig;
import jakarta.websocket.server.ServerEndpointConfig;
import java.util.Set;

/** The application's endpoints, as both containers deploy them: annotated and programmatic. */
public class AppConfig implements ServerApplicationConfig {
  @Override
  public Set<ServerEndpointConfig> getEndpointConfigs(Set<Class<? extends Endpoint>> scanned) {
    return Set.of(ServerEndpointConfig.Builder.create(ProgrammaticEcho.class, "/prog").build());
  }

  @Override
  public Set<Class<?>> getAnnotatedEndpointClasses(Set<Class<?>> scanned) {
    return Set.of(AnnotatedEcho.class, ChatEcho.class);
  }
}
