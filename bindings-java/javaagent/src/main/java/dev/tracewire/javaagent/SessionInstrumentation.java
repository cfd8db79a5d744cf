package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.implementsInterface;
import static net.bytebuddy.matcher.ElementMatchers.named;

import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import jakarta.websocket.Session;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * {@code Session.addMessageHandler} (every overload, the handler last): remembers the handlers of
 * traced sessions, whose messages {@link MessageHandlerInstrumentation} decodes. Containers add
 * annotated endpoints' {@code @OnMessage} methods through it too.
 */
public final class SessionInstrumentation implements TypeInstrumentation {
  @Override
  public ElementMatcher<TypeDescription> typeMatcher() {
    return implementsInterface(named("jakarta.websocket.Session"));
  }

  @Override
  public void transform(TypeTransformer transformer) {
    transformer.applyAdviceToMethod(
        named("addMessageHandler"), SessionInstrumentation.class.getName() + "$AddHandlerAdvice");
  }

  @SuppressWarnings("unused")
  public static final class AddHandlerAdvice {
    private AddHandlerAdvice() {}

    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    public static void enter(@Advice.This Session session, @Advice.AllArguments Object[] args) {
      if (args.length > 0) {
        AgentServer.handlerAdded(session, args[args.length - 1]);
      }
    }
  }
}
