package dev.tracewire;

import java.util.List;

/**
 * The result of extracting a context from headers and a query string.
 *
 * @param context the context (empty when nothing valid was received)
 * @param issues what was ignored, and why
 */
public record Extracted(TraceContext context, List<Issue> issues) {
  /** Copies the issue list. */
  public Extracted {
    issues = List.copyOf(issues);
  }
}
