package dev.tracewire;

import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.SpanKind;
import java.util.List;

/**
 * Everything needed to start one span, as decided by the core's tracing model: the name, the
 * kind, the parent candidates in order of preference (the first available is the parent; if
 * none is, the span starts a new trace), the links to add when available and not the parent, and
 * the attributes.
 *
 * @param name the span name
 * @param kind the span kind
 * @param parents parent candidates, in order of preference
 * @param links links to add
 * @param attributes attributes to set at start
 */
public record SpanDecision(
    String name, SpanKind kind, List<Source> parents, List<Source> links, Attributes attributes) {
  /** Copies the lists. */
  public SpanDecision {
    parents = List.copyOf(parents);
    links = List.copyOf(links);
  }

  /** Where a parent or a link comes from. */
  public enum Source {
    /** The context received with the handshake or the message (if any). */
    REMOTE,
    /** The caller's current span (if any). */
    AMBIENT,
    /** The caller's current span, if it belongs to the connection span's trace. */
    AMBIENT_IN_CONNECTION_TRACE,
    /** The connection span. */
    CONNECTION
  }
}
