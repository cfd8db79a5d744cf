package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.implementsInterface;
import static net.bytebuddy.matcher.ElementMatchers.isBridge;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.not;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import dev.tracewire.Received;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.javaagent.bootstrap.CallDepth;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.implementation.bytecode.assign.Assigner;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * {@code MessageHandler.Whole.onMessage} of a traced session's handler: the message is decoded,
 * the handler gets the payload without the envelope, and runs in the message's process span.
 * Whole text ({@code String}) and binary ({@code ByteBuffer}, {@code byte[]}) messages; others
 * (decoded objects, streams, partial messages) pass as they are.
 */
public final class MessageHandlerInstrumentation implements TypeInstrumentation {
  @Override
  public ElementMatcher<TypeDescription> typeMatcher() {
    return implementsInterface(named("jakarta.websocket.MessageHandler$Whole"));
  }

  @Override
  public void transform(TypeTransformer transformer) {
    // Not the compiler's bridge onMessage(Object): it calls the typed one, decoded once.
    transformer.applyAdviceToMethod(
        named("onMessage").and(takesArguments(1)).and(not(isBridge())),
        MessageHandlerInstrumentation.class.getName() + "$OnMessageAdvice");
  }

  @SuppressWarnings("unused")
  public static final class OnMessageAdvice {
    private OnMessageAdvice() {}

    /** Returns {payload for the handler, Received or null, CallDepth}. */
    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    @Advice.AssignReturned.ToArguments(
        @Advice.AssignReturned.ToArguments.ToArgument(
            value = 0,
            index = 0,
            typing = Assigner.Typing.DYNAMIC))
    public static Object[] enter(@Advice.This Object handler, @Advice.Argument(0) Object message) {
      CallDepth depth = CallDepth.forClass(OnMessageAdvice.class);
      if (depth.getAndIncrement() > 0) {
        return new Object[] {message, null, depth};
      }
      // Never leave the depth raised: a failed decode (a message over the limit closes the
      // session) lets the message through untraced.
      try {
        Received r = AgentServer.receive(handler, message);
        return r == null
            ? new Object[] {message, null, depth}
            : new Object[] {AgentServer.payload(r, message), r, depth};
      } catch (RuntimeException e) {
        return new Object[] {message, null, depth};
      }
    }

    @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class, inline = false)
    public static void exit(@Advice.Enter Object[] state, @Advice.Thrown Throwable thrown) {
      if (state == null) {
        return;
      }
      ((CallDepth) state[2]).decrementAndGet();
      if (state[1] instanceof Received r) {
        if (thrown != null) {
          r.span().recordException(thrown);
          r.span().setStatus(StatusCode.ERROR);
        }
        r.close();
      }
    }
  }
}
