package dev.tracewire.websocket;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.util.function.Supplier;

/**
 * A message being sent: its encoded frame (the message with the negotiated envelope) and its
 * {@code send} span, ended by {@link #close}. Made by {@link TracedSession#prepareText} and
 * {@link TracedWebSocket#prepareText} (and their binary forms) for code that writes the frame
 * itself.
 *
 * @param <T> the frame's type
 */
public final class Outgoing<T> implements AutoCloseable {
  private final Span span;
  private final T frame;

  /** Encodes in {@code ctx}, the send span's context; the span ends if encoding fails. */
  Outgoing(Context ctx, Supplier<T> encode) {
    this.span = Span.fromContext(ctx);
    T f;
    try (Scope ignored = ctx.makeCurrent()) {
      f = encode.get();
    } catch (RuntimeException e) {
      fail(e);
      span.end();
      throw e;
    }
    this.frame = f;
  }

  /** The frame to write: the message with its envelope. */
  public T frame() {
    return frame;
  }

  /** The send span. */
  public Span span() {
    return span;
  }

  /** Records a failed write on the send span. */
  public void fail(Throwable error) {
    span.recordException(error);
    span.setStatus(StatusCode.ERROR);
  }

  /** Ends the send span. */
  @Override
  public void close() {
    span.end();
  }
}
