package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.implementsInterface;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import dev.tracewire.websocket.Outgoing;
import io.opentelemetry.javaagent.bootstrap.CallDepth;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import java.nio.ByteBuffer;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.implementation.bytecode.assign.Assigner;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * Whole-message sends on a traced session's {@code RemoteEndpoint.Basic} and {@code .Async}
 * ({@code sendText(String)}, {@code sendBinary(ByteBuffer)}, and the {@code SendHandler} and
 * {@code Future} forms): a send span, and the frame written with the negotiated envelope. Partial
 * sends, streams and {@code sendObject} pass as they are. An asynchronous send's span covers the
 * call that queues it.
 */
public final class RemoteEndpointInstrumentation implements TypeInstrumentation {
  private static final String SEND_HANDLER = "jakarta.websocket.SendHandler";

  @Override
  public ElementMatcher<TypeDescription> typeMatcher() {
    return implementsInterface(named("jakarta.websocket.RemoteEndpoint"));
  }

  @Override
  public void transform(TypeTransformer transformer) {
    transformer.applyAdviceToMethod(
        named("sendText")
            .and(takesArgument(0, String.class))
            .and(takesArguments(1).or(takesArguments(2).and(takesArgument(1, named(SEND_HANDLER))))),
        RemoteEndpointInstrumentation.class.getName() + "$SendAdvice");
    transformer.applyAdviceToMethod(
        named("sendBinary")
            .and(takesArgument(0, ByteBuffer.class))
            .and(takesArguments(1).or(takesArguments(2).and(takesArgument(1, named(SEND_HANDLER))))),
        RemoteEndpointInstrumentation.class.getName() + "$SendAdvice");
  }

  @SuppressWarnings("unused")
  public static final class SendAdvice {
    private SendAdvice() {}

    /** Returns {frame to write, Outgoing or null, CallDepth}. */
    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    @Advice.AssignReturned.ToArguments(
        @Advice.AssignReturned.ToArguments.ToArgument(
            value = 0,
            index = 0,
            typing = Assigner.Typing.DYNAMIC))
    public static Object[] enter(@Advice.This Object remote, @Advice.Argument(0) Object message) {
      CallDepth depth = CallDepth.forClass(SendAdvice.class);
      if (depth.getAndIncrement() > 0) {
        return new Object[] {message, null, depth};
      }
      try {
        Outgoing<?> out = AgentServer.send(remote, message);
        return out == null
            ? new Object[] {message, null, depth}
            : new Object[] {out.frame(), out, depth};
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
      if (state[1] instanceof Outgoing<?> out) {
        if (thrown != null) {
          out.fail(thrown);
        }
        out.close();
      }
    }
  }
}
