package dev.tracewire;

import dev.tracewire.internal.Native;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.util.Objects;

/**
 * Applies the core's span decisions for one connection ({@link ConnectionModel}) with
 * opentelemetry-java: reads what is at hand off the remote context, the caller's current context
 * and the connection span's context, lets the core choose the parent, the link and the baggage
 * ({@code model::choose}), and builds exactly that. Spans belong to the given {@link Tracer} (the
 * SDK's, or the Java agent's through {@link GlobalOpenTelemetry}). Thread-safe.
 *
 * <pre>{@code
 * ConnectionTracer t = new ConnectionTracer(tracer, model);
 * t.open(handshake.context());            // accept {path} / connect {path}
 * t.upgraded();                           // message model: the connection span ends here
 * Context send = t.sendContext(MessageType.TEXT, payload.length);
 * try (Scope s = send.makeCurrent()) { ... codec.encode(..., send) ... }
 * finally { Span.fromContext(send).end(); }
 * t.close(1000, "");
 * }</pre>
 */
public final class ConnectionTracer {
  /** The instrumentation scope name of tracewire's spans. */
  public static final String INSTRUMENTATION_NAME = "dev.tracewire";

  private final Tracer tracer;
  private final ConnectionModel model;
  private final ReceiveSpanBudget receiveBudget;
  private volatile Span connectionSpan;
  /** The context holding the connection span, with the baggage its start picked. */
  private volatile Context connectionContext;
  private volatile boolean connectionSpanEnded;

  /** A tracer for the connection {@code model}, starting spans with {@code tracer}. */
  public ConnectionTracer(Tracer tracer, ConnectionModel model) {
    this.tracer = Objects.requireNonNull(tracer, "tracer");
    this.model = Objects.requireNonNull(model, "model");
    this.receiveBudget = model.trust().receiveSpanBudget();
  }

  /** The tracer of {@link GlobalOpenTelemetry} (the Java agent's, when it runs). */
  public static Tracer globalTracer() {
    return GlobalOpenTelemetry.getTracer(INSTRUMENTATION_NAME);
  }

  /** The connection facts and decisions. */
  public ConnectionModel model() {
    return model;
  }

  /** The connection span (null before {@link #open}). */
  public Span connectionSpan() {
    return connectionSpan;
  }

  /**
   * Starts the connection span: {@code connect {path}} under the caller's current span
   * (client), or {@code accept {path}} under the handshake's context (server), as the
   * connection's {@link Trust} admits it.
   *
   * @param handshake the context received in the handshake (server), or null
   */
  public Span open(TraceContext handshake) {
    Context c = start(model.open(), admit(handshake));
    Span s = Span.fromContext(c);
    connectionContext = c;
    connectionSpan = s;
    return s;
  }

  /**
   * The context holding the connection span (null before {@link #open}), with the baggage the
   * core's rule gave it: what a handler of the whole connection runs in.
   */
  public Context connectionContext() {
    return connectionContext;
  }

  /**
   * The upgrade completed. In the {@code message} model the connection span ends now (every
   * later span links to it); in the {@code connection} model it lives until {@link #close}.
   */
  public void upgraded() {
    Span s = connectionSpan;
    if (s != null && model.connectionSpanEndsAtUpgrade() && !connectionSpanEnded) {
      connectionSpanEnded = true;
      s.end();
    }
  }

  /**
   * Starts the span for sending one message of {@code size} payload bytes and returns its
   * context: the parent's context chosen by the core, with the baggage it picks, holding the new
   * span ({@link Span#fromContext} gives the span, which the caller ends). Make it current while
   * encoding: it is what the envelope carries.
   */
  public Context sendContext(MessageType type, long size) {
    return start(model.send(type, size), null);
  }

  /** {@link #sendContext}'s span (its context's baggage is then the caller's to set). */
  public Span startSend(MessageType type, long size) {
    return Span.fromContext(sendContext(type, size));
  }

  /**
   * Starts the span for processing one received message of {@code size} payload bytes (without
   * the envelope) and returns its context, which the handler runs in: the parent and baggage the
   * core picks from the message's context (as the connection's {@link Trust} admits it), the
   * caller's and the connection's ({@link Span#fromContext} gives the span, which the caller
   * ends). Once the trust policy's receive span budget is spent, no span starts: the context is
   * the connection's, holding a non-recording span (ending it does nothing), and the message is
   * counted at close.
   *
   * @param message the context decoded from the message, or null/empty
   */
  public Context receiveContext(MessageType type, long size, TraceContext message) {
    if (!receiveBudget.admit()) {
      Context conn = connectionContext;
      Context base = conn == null ? Context.root() : conn;
      return base.with(Span.wrap(Span.fromContext(base).getSpanContext()));
    }
    return start(model.receive(type, size), admit(message));
  }

  private TraceContext admit(TraceContext received) {
    return received == null ? null : model.trust().admit(received);
  }

  /** {@link #receiveContext}'s span. */
  public Span startReceive(MessageType type, long size, TraceContext message) {
    return Span.fromContext(receiveContext(type, size, message));
  }

  /**
   * Records the close: on the connection span, which ends ({@code connection} model), or as a
   * {@code close {path}} span linked to it ({@code message} model). Abnormal codes set an error
   * status.
   *
   * @param code the close code, or null when the connection ended without a close frame
   * @param reason the close reason (may be empty)
   */
  public void close(Integer code, String reason) {
    CloseDecision d = model.close(code, reason, receiveBudget.skipped());
    if (d.span() == null) {
      Span s = connectionSpan;
      if (s != null && !connectionSpanEnded) {
        connectionSpanEnded = true;
        s.setAllAttributes(d.attributes());
        if (d.isError()) {
          s.setStatus(StatusCode.ERROR);
        }
        s.end();
      }
      return;
    }
    Span s = Span.fromContext(start(d.span(), null));
    if (d.isError()) {
      s.setStatus(StatusCode.ERROR);
    }
    s.end();
  }

  /** Ends the connection span if it is still open (e.g. the handshake failed), with an error. */
  public void fail(Throwable error) {
    Span s = connectionSpan;
    if (s != null && !connectionSpanEnded) {
      connectionSpanEnded = true;
      if (error != null) {
        s.recordException(error);
      }
      s.setStatus(StatusCode.ERROR);
      s.end();
    }
  }

  /**
   * Starts the span {@code d} describes: reads what is at hand off the contexts, lets the core
   * choose ({@link Applied#choose}) and builds exactly that. Returns the span's context.
   */
  private Context start(SpanDecision d, TraceContext remote) {
    Context ambient = Context.current();
    Context conn = connectionContext;
    SpanContext ambientSc = Span.fromContext(ambient).getSpanContext();
    SpanContext connSc =
        conn == null ? SpanContext.getInvalid() : Span.fromContext(conn).getSpanContext();
    boolean remoteSpan = remote != null && remote.hasSpanContext();
    boolean remoteBaggage = remote != null && !remote.baggage().isEmpty();
    boolean sameTrace =
        ambientSc.isValid() && connSc.isValid() && ambientSc.getTraceId().equals(connSc.getTraceId());
    int available =
        (remoteSpan ? Native.AVAILABLE_REMOTE_HAS_SPAN : 0)
            | (remoteBaggage ? Native.AVAILABLE_REMOTE_HAS_BAGGAGE : 0)
            | (ambientSc.isValid() ? Native.AVAILABLE_AMBIENT_HAS_SPAN : 0)
            | (sameTrace ? Native.AVAILABLE_AMBIENT_IN_CONNECTION_TRACE : 0)
            | (sameTrace && ambientSc.getSpanId().equals(connSc.getSpanId())
                ? Native.AVAILABLE_AMBIENT_IS_CONNECTION
                : 0)
            | (connSc.isValid() ? Native.AVAILABLE_CONNECTION_HAS_SPAN : 0);
    Applied applied = Applied.choose(d, available);

    Context parent =
        switch (applied.parent()) {
          case REMOTE -> Context.root().with(Span.wrap(remote.toSpanContext()));
          case AMBIENT -> ambient;
          case CONNECTION -> conn;
          case NEW_TRACE -> Context.root();
        };
    Baggage baggage =
        switch (applied.baggage()) {
          case REMOTE -> remote.toBaggage();
          case AMBIENT -> Baggage.fromContext(ambient);
          case CONNECTION -> Baggage.fromContext(conn);
          case NONE -> Baggage.empty();
        };
    parent = parent.with(baggage);

    SpanBuilder b = tracer.spanBuilder(d.name()).setSpanKind(d.kind()).setAllAttributes(d.attributes());
    if (applied.parent() == Applied.Parent.NEW_TRACE) {
      b.setNoParent();
    } else {
      b.setParent(parent);
    }
    if (applied.linkConnection()) {
      b.addLink(connSc);
    }
    if (applied.linkRemote()) {
      b.addLink(remote.toSpanContext());
    }
    return parent.with(b.startSpan());
  }
}
