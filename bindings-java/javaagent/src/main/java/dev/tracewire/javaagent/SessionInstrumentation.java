package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.implementsInterface;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import jakarta.websocket.Session;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * {@code Session.addMessageHandler} (every overload, the handler last): remembers the handlers of
 * traced sessions, whose messages {@link MessageHandlerInstrumentation} decodes. Containers add
 * annotated endpoints' {@code @OnMessage} methods through it too. {@code
 * getNegotiatedSubprotocol} answers the endpoint's own subprotocol.
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
    transformer.applyAdviceToMethod(
        named("getNegotiatedSubprotocol").and(takesArguments(0)),
        SessionInstrumentation.class.getName() + "$SubprotocolAdvice");
  }

  /** The endpoint sees its own subprotocol, not the tracewire token that carried it. */
  @SuppressWarnings("unused")
  public static final class SubprotocolAdvice {
    private SubprotocolAdvice() {}

    @Advice.OnMethodExit(suppress = Throwable.class, inline = false)
    @Advice.AssignReturned.ToReturned
    public static String exit(@Advice.This Session session, @Advice.Return String raw) {
      return AgentServer.subprotocol(session, raw);
    }
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
