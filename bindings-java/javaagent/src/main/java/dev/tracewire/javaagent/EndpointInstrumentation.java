package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.extendsClass;
import static net.bytebuddy.matcher.ElementMatchers.isPublic;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import io.opentelemetry.javaagent.bootstrap.CallDepth;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import jakarta.websocket.CloseReason;
import jakarta.websocket.Session;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * {@code jakarta.websocket.Endpoint}: programmatic endpoints extend it, and the containers wrap
 * annotated ones in one (Tyrus {@code AnnotatedEndpoint}, Tomcat {@code PojoEndpointServer}).
 * The session is opened before the endpoint adds its handlers, and closed after its {@code
 * onClose}.
 */
public final class EndpointInstrumentation implements TypeInstrumentation {
  private static final String SESSION = "jakarta.websocket.Session";

  @Override
  public ElementMatcher<TypeDescription> typeMatcher() {
    return extendsClass(named("jakarta.websocket.Endpoint"));
  }

  @Override
  public void transform(TypeTransformer transformer) {
    transformer.applyAdviceToMethod(
        named("onOpen").and(isPublic()).and(takesArguments(2)).and(takesArgument(0, named(SESSION))),
        EndpointInstrumentation.class.getName() + "$OpenAdvice");
    transformer.applyAdviceToMethod(
        named("onClose").and(isPublic()).and(takesArguments(2)).and(takesArgument(0, named(SESSION))),
        EndpointInstrumentation.class.getName() + "$CloseAdvice");
    transformer.applyAdviceToMethod(
        named("onError").and(isPublic()).and(takesArguments(2)).and(takesArgument(0, named(SESSION))),
        EndpointInstrumentation.class.getName() + "$ErrorAdvice");
  }

  @SuppressWarnings("unused")
  public static final class OpenAdvice {
    private OpenAdvice() {}

    // Opening twice is a no-op (an overriding onOpen calling super).
    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    public static void enter(@Advice.Argument(0) Session session) {
      AgentServer.open(session);
    }
  }

  @SuppressWarnings("unused")
  public static final class CloseAdvice {
    private CloseAdvice() {}

    // Closing twice is a no-op too: the first close forgets the session.
    @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class, inline = false)
    public static void exit(
        @Advice.Argument(0) Session session, @Advice.Argument(1) CloseReason reason) {
      AgentServer.close(session, reason);
    }
  }

  @SuppressWarnings("unused")
  public static final class ErrorAdvice {
    private ErrorAdvice() {}

    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    public static CallDepth enter(
        @Advice.Argument(0) Session session, @Advice.Argument(1) Throwable error) {
      CallDepth depth = CallDepth.forClass(ErrorAdvice.class);
      if (depth.getAndIncrement() == 0) {
        AgentServer.error(session, error);
      }
      return depth;
    }

    @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class, inline = false)
    public static void exit(@Advice.Enter CallDepth depth) {
      depth.decrementAndGet();
    }
  }
}
