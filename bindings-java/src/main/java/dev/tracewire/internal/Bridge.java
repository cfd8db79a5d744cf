package dev.tracewire.internal;

import dev.tracewire.BaggageMember;
import dev.tracewire.TraceContext;
import dev.tracewire.TraceStateEntry;
import java.util.List;

/**
 * Access from the internal package to package-private factories of the API (set once by the
 * API classes' static initialisers). Internal: not API.
 */
public final class Bridge {
  /** Creates a {@link TraceContext} from decoded parts. */
  public interface ContextFactory {
    TraceContext create(
        String traceId,
        String spanId,
        byte flags,
        List<TraceStateEntry> traceState,
        List<BaggageMember> baggage,
        boolean remote);
  }

  private static volatile ContextFactory contexts;

  private Bridge() {}

  public static void register(ContextFactory f) {
    contexts = f;
  }

  static TraceContext traceContext(
      String traceId,
      String spanId,
      byte flags,
      List<TraceStateEntry> traceState,
      List<BaggageMember> baggage,
      boolean remote) {
    ContextFactory f = contexts;
    if (f == null) {
      // Initialising TraceContext registers the factory.
      TraceContext.empty();
      f = contexts;
    }
    return f.create(traceId, spanId, flags, traceState, baggage, remote);
  }
}
