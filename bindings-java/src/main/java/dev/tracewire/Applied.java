package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.List;

/**
 * How one span starts, as the core's {@code model::choose} picks it from a decision's candidates
 * and what is at hand (docs/PROTOCOL.md section 7): where the parent comes from, whose baggage
 * the span's context carries, and whether the connection span and the received span context are
 * linked. {@link ConnectionTracer} builds exactly this.
 *
 * @param parent where the parent comes from
 * @param baggage whose baggage the span's context (and so the handler) carries
 * @param linkConnection whether the span links to the connection span
 * @param linkRemote whether the span links to the received span context (a peer not trusted as
 *     a parent, {@link Trust.RemoteContext#LINK})
 */
record Applied(Parent parent, Baggage baggage, boolean linkConnection, boolean linkRemote) {
  /** The parent's source, in the bridge's code order ({@code Parent}). */
  enum Parent {
    REMOTE,
    AMBIENT,
    CONNECTION,
    NEW_TRACE
  }

  /** The baggage's source, in the bridge's code order ({@code BaggageSource}). */
  enum Baggage {
    REMOTE,
    AMBIENT,
    CONNECTION,
    NONE
  }

  private static final Parent[] PARENTS = Parent.values();
  private static final Baggage[] BAGGAGES = Baggage.values();

  /**
   * Asks the core for decision {@code d} given the {@code available} facts (the {@code
   * Native.AVAILABLE_*} bits).
   */
  static Applied choose(SpanDecision d, int available) {
    int packed;
    try (Scratch s = Scratch.get()) {
      List<SpanDecision.Source> parents = d.parents();
      s.u32(parents.size());
      for (int i = 0; i < parents.size(); i++) {
        s.u8(parents.get(i).ordinal());
      }
      List<SpanDecision.Source> links = d.links();
      s.u32(links.size());
      for (int i = 0; i < links.size(); i++) {
        s.u8(ConnectionModel.linkCode(links.get(i)));
      }
      packed = Native.modelChoose(s.address(), s.position(), available);
    }
    return new Applied(
        PARENTS[packed & Native.APPLIED_CODE_MASK],
        BAGGAGES[(packed >>> Native.APPLIED_BAGGAGE_SHIFT) & Native.APPLIED_CODE_MASK],
        (packed & Native.APPLIED_LINK_CONNECTION) != 0,
        (packed & Native.APPLIED_LINK_REMOTE) != 0);
  }
}
