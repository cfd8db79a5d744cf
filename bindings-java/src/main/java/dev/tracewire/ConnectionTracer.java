package dev.tracewire;

import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import java.util.Objects;

/**
 * Applies the core's span decisions for one connection ({@link ConnectionModel}) with
 * opentelemetry-java: resolves each decision's parent candidates and links against the remote
 * context, the caller's current context and the connection span, and starts the spans. Spans
 * belong to the given {@link Tracer} (the SDK's, or the Java agent's through {@link
 * GlobalOpenTelemetry}). Thread-safe.
 *
 * <pre>{@code
 * ConnectionTracer t = new ConnectionTracer(tracer, model);
 * t.open(handshake.context());            // accept {path} / connect {path}
 * t.upgraded();                           // message model: the connection span ends here
 * Span send = t.startSend(MessageType.TEXT, payload.length);
 * try (Scope s = send.makeCurrent()) { ... inject Context.current() ... } finally { send.end(); }
 * t.close(1000, "");
 * }</pre>
 */
public final class ConnectionTracer {
  /** The instrumentation scope name of tracewire's spans. */
  public static final String INSTRUMENTATION_NAME = "dev.tracewire";

  private final Tracer tracer;
  private final ConnectionModel model;
  private volatile Span connectionSpan;
  private volatile boolean connectionSpanEnded;

  /** A tracer for the connection {@code model}, starting spans with {@code tracer}. */
  public ConnectionTracer(Tracer tracer, ConnectionModel model) {
    this.tracer = Objects.requireNonNull(tracer, "tracer");
    this.model = Objects.requireNonNull(model, "model");
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
   * (client), or {@code accept {path}} under the handshake's context (server).
   *
   * @param handshake the context received in the handshake (server), or null
   */
  public Span open(TraceContext handshake) {
    Span s = start(model.open(), handshake);
    connectionSpan = s;
    return s;
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
   * Starts the span for sending one message of {@code size} payload bytes. Make it current
   * while injecting: its context is what the envelope carries. The caller ends it.
   */
  public Span startSend(MessageType type, long size) {
    return start(model.send(type, size), null);
  }

  /**
   * Starts the span for processing one received message of {@code size} payload bytes
   * (without the envelope), under the message's context when it carried one. The caller ends
   * it.
   *
   * @param message the context decoded from the message, or null/empty
   */
  public Span startReceive(MessageType type, long size, TraceContext message) {
    return start(model.receive(type, size), message);
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
    CloseDecision d = model.close(code, reason);
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
    Span s = start(d.span(), null);
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

  private Span start(SpanDecision d, TraceContext remote) {
    SpanBuilder b = tracer.spanBuilder(d.name()).setSpanKind(d.kind());
    Attributes attrs = d.attributes();
    b.setAllAttributes(attrs);
    Context parent = null;
    for (SpanDecision.Source p : d.parents()) {
      parent = candidate(p, remote);
      if (parent != null) {
        break;
      }
    }
    SpanContext parentSc = SpanContext.getInvalid();
    if (parent == null) {
      b.setNoParent();
    } else {
      b.setParent(parent);
      parentSc = Span.fromContext(parent).getSpanContext();
    }
    for (SpanDecision.Source l : d.links()) {
      SpanContext lc = link(l);
      if (lc != null && lc.isValid() && !lc.equals(parentSc)) {
        b.addLink(lc);
      }
    }
    return b.startSpan();
  }

  private Context candidate(SpanDecision.Source source, TraceContext remote) {
    switch (source) {
      case REMOTE -> {
        if (remote != null && remote.hasSpanContext()) {
          Context c = remote.storeIn(Context.root());
          return Span.fromContext(c).getSpanContext().isValid() ? c : null;
        }
        return null;
      }
      case AMBIENT -> {
        Context c = Context.current();
        return Span.fromContext(c).getSpanContext().isValid() ? c : null;
      }
      case AMBIENT_IN_CONNECTION_TRACE -> {
        Context c = Context.current();
        SpanContext sc = Span.fromContext(c).getSpanContext();
        Span conn = connectionSpan;
        if (sc.isValid()
            && conn != null
            && sc.getTraceId().equals(conn.getSpanContext().getTraceId())) {
          return c;
        }
        return null;
      }
      case CONNECTION -> {
        Span conn = connectionSpan;
        return conn != null && conn.getSpanContext().isValid() ? Context.current().with(conn) : null;
      }
      default -> {
        return null;
      }
    }
  }

  private SpanContext link(SpanDecision.Source source) {
    if (source == SpanDecision.Source.CONNECTION) {
      Span conn = connectionSpan;
      return conn == null ? null : conn.getSpanContext();
    }
    return null;
  }
}
