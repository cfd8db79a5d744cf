package dev.tracewire;

import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.util.concurrent.Callable;

/**
 * Capture and restore of trace context across async hops: queue items, job records, stores
 * such as Redis, thread pools. A captured context is a few dozen bytes (the core's carrier, a
 * binary envelope without payload); restoring it gives a context whose span is the captured one
 * (as a remote parent), with the captured baggage.
 *
 * <pre>{@code
 * queue.put(new Job(payload, ContextCarrier.capture()));      // producer
 * try (Scope s = ContextCarrier.restore(job.carrier()).makeCurrent()) { ... }   // consumer
 * }</pre>
 */
public final class ContextCarrier {
  private ContextCarrier() {}

  /** The current context ({@link Context#current()}) as carrier bytes. */
  public static byte[] capture() {
    return capture(Context.current());
  }

  /** {@code context}'s span context and baggage as carrier bytes. */
  public static byte[] capture(Context context) {
    return TraceContext.fromContext(context).toCarrier();
  }

  /**
   * A context with the captured span context and baggage, on top of {@link Context#root()}.
   *
   * @throws TracewireException {@code invalid_envelope} when the bytes are not a carrier
   */
  public static Context restore(byte[] carrier) {
    return restore(carrier, Context.root());
  }

  /** {@link #restore(byte[])} on top of {@code parent}. */
  public static Context restore(byte[] carrier, Context parent) {
    return TraceContext.fromCarrier(carrier).storeIn(parent);
  }

  /** {@code task}, run later in the context current now (captured through a carrier). */
  public static Runnable wrap(Runnable task) {
    byte[] carrier = capture();
    return () -> {
      try (Scope ignored = restore(carrier).makeCurrent()) {
        task.run();
      }
    };
  }

  /** {@code task}, called later in the context current now (captured through a carrier). */
  public static <T> Callable<T> wrap(Callable<T> task) {
    byte[] carrier = capture();
    return () -> {
      try (Scope ignored = restore(carrier).makeCurrent()) {
        return task.call();
      }
    };
  }
}
