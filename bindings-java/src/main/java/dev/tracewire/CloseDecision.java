package dev.tracewire;

import io.opentelemetry.api.common.Attributes;

/**
 * What to record when a connection closes, as decided by the core's tracing model.
 *
 * @param attributes close code and reason
 * @param isError whether the close is abnormal (the span's status is then an error)
 * @param span null: set the attributes on the connection span and end it; else start and end
 *     this span (the connection span ended at the upgrade)
 */
public record CloseDecision(Attributes attributes, boolean isError, SpanDecision span) {}
