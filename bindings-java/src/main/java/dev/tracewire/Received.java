package dev.tracewire;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.nio.ByteBuffer;

/**
 * A received message being processed: its decoded payload and context, and the {@code process}
 * span, current until {@link #close()} (which ends it). Use with try-with-resources on the
 * thread that received it.
 */
public final class Received implements AutoCloseable {
  private final Span span;
  private final Scope scope;
  private final Decoded decoded;
  private final MessageType type;

  Received(Span span, Scope scope, Decoded decoded, MessageType type) {
    this.span = span;
    this.scope = scope;
    this.decoded = decoded;
    this.type = type;
  }

  /**
   * Starts the process span for {@code decoded} with {@code tracer} and makes its context current
   * (the parent and baggage the core picks); records on it what the decoding outcome leaves there
   * ({@link Decoded#recordTo}).
   */
  public static Received start(ConnectionTracer tracer, Decoded decoded, MessageType type) {
    Context ctx = tracer.receiveContext(type, decoded.bodySize(), decoded.context());
    Span span = Span.fromContext(ctx);
    decoded.recordTo(span);
    return new Received(span, ctx.makeCurrent(), decoded, type);
  }

  /** The process span. */
  public Span span() {
    return span;
  }

  /** The decoding outcome. */
  public Decoded decoded() {
    return decoded;
  }

  /** The context the message carried (empty when none). */
  public TraceContext context() {
    return decoded.context();
  }

  /** Text or binary. */
  public MessageType type() {
    return type;
  }

  /** The payload as text (for text frames). */
  public String text() {
    return decoded.payloadText();
  }

  /** The payload (a read-only view). */
  public ByteBuffer data() {
    return decoded.payload();
  }

  /** Leaves the span's scope and ends the span. */
  @Override
  public void close() {
    scope.close();
    span.end();
  }
}
