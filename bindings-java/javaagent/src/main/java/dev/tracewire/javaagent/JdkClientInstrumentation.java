package dev.tracewire.javaagent;

import static io.opentelemetry.javaagent.extension.matcher.AgentElementMatchers.implementsInterface;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import dev.tracewire.websocket.Outgoing;
import io.opentelemetry.javaagent.extension.instrumentation.TypeInstrumentation;
import io.opentelemetry.javaagent.extension.instrumentation.TypeTransformer;
import java.net.URI;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.implementation.bytecode.assign.Assigner;
import net.bytebuddy.matcher.ElementMatcher;

/**
 * {@code WebSocket.Builder.subprotocols} and {@code buildAsync}, and {@code WebSocket.sendText} /
 * {@code sendBinary} / {@code getSubprotocol}, in the JDK's implementations. The advice calls only
 * {@link AgentClient}: this class (ByteBuddy's types) is not for the advice's class loader.
 */
public final class JdkClientInstrumentation implements TypeInstrumentation {
  @Override
  public ElementMatcher<TypeDescription> typeMatcher() {
    return implementsInterface(named("java.net.http.WebSocket$Builder"))
        .or(implementsInterface(named("java.net.http.WebSocket")));
  }

  @Override
  public void transform(TypeTransformer transformer) {
    transformer.applyAdviceToMethod(
        named("subprotocols").and(takesArguments(2)),
        JdkClientInstrumentation.class.getName() + "$SubprotocolsAdvice");
    transformer.applyAdviceToMethod(
        named("buildAsync").and(takesArguments(2)),
        JdkClientInstrumentation.class.getName() + "$BuildAdvice");
    transformer.applyAdviceToMethod(
        named("getSubprotocol").and(takesArguments(0)),
        JdkClientInstrumentation.class.getName() + "$GetSubprotocolAdvice");
    transformer.applyAdviceToMethod(
        named("sendText").and(takesArguments(2)).and(takesArgument(0, CharSequence.class)),
        JdkClientInstrumentation.class.getName() + "$SendAdvice");
    transformer.applyAdviceToMethod(
        named("sendBinary").and(takesArguments(2)).and(takesArgument(0, ByteBuffer.class)),
        JdkClientInstrumentation.class.getName() + "$SendAdvice");
  }

  @SuppressWarnings("unused")
  public static final class SubprotocolsAdvice {
    private SubprotocolsAdvice() {}

    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    public static void enter(
        @Advice.This Object builder,
        @Advice.Argument(0) String first,
        @Advice.Argument(1) String[] rest) {
      AgentClient.subprotocols(builder, first, rest);
    }
  }

  @SuppressWarnings("unused")
  public static final class BuildAdvice {
    private BuildAdvice() {}

    /** The traced connection's future, which replaces the call; null to run it as it is. */
    @Advice.OnMethodEnter(
        skipOn = Advice.OnNonDefaultValue.class,
        suppress = Throwable.class,
        inline = false)
    public static CompletableFuture<WebSocket> enter(
        @Advice.This WebSocket.Builder builder,
        @Advice.Argument(0) URI uri,
        @Advice.Argument(1) WebSocket.Listener listener) {
      try {
        // TracedWebSocket's own buildAsync, from inside this one, runs as it is.
        return AgentClient.connecting() ? null : AgentClient.connect(builder, uri, listener);
      } catch (RuntimeException e) {
        return null;
      }
    }

    @Advice.OnMethodExit(suppress = Throwable.class, inline = false)
    @Advice.AssignReturned.ToReturned(typing = Assigner.Typing.DYNAMIC)
    public static Object exit(
        @Advice.Return(typing = Assigner.Typing.DYNAMIC) Object returned,
        @Advice.Enter Object traced) {
      return traced != null ? traced : returned;
    }
  }

  @SuppressWarnings("unused")
  public static final class GetSubprotocolAdvice {
    private GetSubprotocolAdvice() {}

    @Advice.OnMethodExit(suppress = Throwable.class, inline = false)
    @Advice.AssignReturned.ToReturned
    public static String exit(@Advice.This WebSocket ws, @Advice.Return String raw) {
      return AgentClient.subprotocol(ws, raw);
    }
  }

  @SuppressWarnings("unused")
  public static final class SendAdvice {
    private SendAdvice() {}

    /** Returns {frame to write, Outgoing or null}. */
    @Advice.OnMethodEnter(suppress = Throwable.class, inline = false)
    @Advice.AssignReturned.ToArguments(
        @Advice.AssignReturned.ToArguments.ToArgument(
            value = 0,
            index = 0,
            typing = Assigner.Typing.DYNAMIC))
    public static Object[] enter(
        @Advice.This WebSocket ws,
        @Advice.Argument(0) Object data,
        @Advice.Argument(1) boolean last) {
      try {
        Outgoing<?> out = AgentClient.send(ws, data, last);
        return out == null ? new Object[] {data, null} : new Object[] {out.frame(), out};
      } catch (RuntimeException e) {
        return new Object[] {data, null};
      }
    }

    @Advice.OnMethodExit(suppress = Throwable.class, onThrowable = Throwable.class, inline = false)
    public static void exit(
        @Advice.Enter Object[] state,
        @Advice.Return CompletableFuture<WebSocket> sent,
        @Advice.Thrown Throwable thrown) {
      if (state == null || !(state[1] instanceof Outgoing<?> out)) {
        return;
      }
      if (thrown != null || sent == null) {
        if (thrown != null) {
          out.fail(thrown);
        }
        out.close();
        return;
      }
      sent.whenComplete(
          (w, err) -> {
            if (err != null) {
              out.fail(err);
            }
            out.close();
          });
    }
  }
}
