package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.extendsClass;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import io.opentelemetry.javaagent.bootstrap.CallDepth;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import jakarta.websocket.HandshakeResponse;
import jakarta.websocket.server.HandshakeRequest;
import jakarta.websocket.server.ServerEndpointConfig;
import java.util.List;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * Every server endpoint's configurator, annotated or programmatic, the container's default
 * included: the handshake is read after {@code modifyHandshake}, the subprotocol answered by the
 * core after {@code getNegotiatedSubprotocol}. Configurators delegate to the container's default
 * one, so only the outermost call acts.
 */
public final class ConfiguratorInstrumentation implements TypeInstrumentation {
  @Override
  public ElementMatcher<TypeDescription> typeMatcher() {
    return extendsClass(named("jakarta.websocket.server.ServerEndpointConfig$Configurator"));
  }

  @Override
  public void transform(TypeTransformer transformer) {
    transformer.applyAdviceToMethod(
        named("modifyHandshake").and(takesArguments(3)),
        ConfiguratorInstrumentation.class.getName() + "$HandshakeAdvice");
    transformer.applyAdviceToMethod(
        named("getNegotiatedSubprotocol").and(takesArguments(2)),
        ConfiguratorInstrumentation.class.getName() + "$SubprotocolAdvice");
  }

  @SuppressWarnings("unused")
  public static final class HandshakeAdvice {
    private HandshakeAdvice() {}

    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    public static CallDepth enter() {
      CallDepth depth = CallDepth.forClass(HandshakeAdvice.class);
      depth.getAndIncrement();
      return depth;
    }

    @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class, inline = false)
    public static void exit(
        @Advice.This Object configurator,
        @Advice.Argument(0) ServerEndpointConfig sec,
        @Advice.Argument(1) HandshakeRequest request,
        @Advice.Argument(2) HandshakeResponse response,
        @Advice.Thrown Throwable thrown,
        @Advice.Enter CallDepth depth) {
      if (depth.decrementAndGet() == 0 && thrown == null) {
        AgentServer.handshake(configurator, sec, request, response);
      }
    }
  }

  @SuppressWarnings("unused")
  public static final class SubprotocolAdvice {
    private SubprotocolAdvice() {}

    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    public static CallDepth enter() {
      CallDepth depth = CallDepth.forClass(SubprotocolAdvice.class);
      depth.getAndIncrement();
      return depth;
    }

    @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class, inline = false)
    @Advice.AssignReturned.ToReturned
    public static String exit(
        @Advice.This Object configurator,
        @Advice.Argument(0) List<String> supported,
        @Advice.Argument(1) List<String> requested,
        @Advice.Return String chosen,
        @Advice.Thrown Throwable thrown,
        @Advice.Enter CallDepth depth) {
      if (depth.decrementAndGet() > 0 || thrown != null) {
        return chosen;
      }
      return AgentServer.subprotocol(configurator, supported, requested, chosen);
    }
  }
}
