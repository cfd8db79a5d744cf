package dev.tracewire;

import dev.tracewire.internal.Native;
import dev.tracewire.internal.Scratch;
import java.util.List;
import java.util.Objects;

/**
 * How far a connection trusts its peer (docs/PROTOCOL.md section 12): what a received context
 * may do to this side's spans, which of its baggage reaches the handler, and how many received
 * messages get a process span. The rules are the core's ({@code model::Trust}); this class only
 * carries the policy to it. Immutable.
 *
 * <pre>{@code
 * // a server on the internet
 * TracingConfigurator.builder().trust(Trust.untrusted()).build();
 * }</pre>
 */
public final class Trust {
  /**
   * The receive span budget of {@link #untrusted()}: half the SDKs' default export queue (Rust:
   * {@code model::UNTRUSTED_MAX_RECEIVE_SPANS}; pinned by a test in {@code native/src/lib.rs}).
   */
  public static final long UNTRUSTED_MAX_RECEIVE_SPANS = 1024;

  /** What a received context does to the spans this side starts for it. */
  public enum RemoteContext {
    /** Trusted: the received span context is the parent. */
    PARENT,
    /** A new trace, sampled by the local sampler alone, linked to the received span context. */
    LINK,
    /** The received span context is dropped. */
    IGNORE
  }

  /** Which received baggage members reach the handler. */
  public enum BaggagePolicy {
    /** Every member. */
    KEEP_ALL,
    /** The members whose key is one of the allowed keys. */
    ALLOW_KEYS,
    /** None. */
    DROP
  }

  private static final Trust TRUSTED = new Trust(RemoteContext.PARENT, BaggagePolicy.KEEP_ALL, List.of(), -1);
  private static final Trust UNTRUSTED =
      new Trust(RemoteContext.LINK, BaggagePolicy.DROP, List.of(), UNTRUSTED_MAX_RECEIVE_SPANS);

  private final RemoteContext remoteContext;
  private final BaggagePolicy baggage;
  private final List<String> allowedKeys;
  private final long maxReceiveSpans;

  private Trust(
      RemoteContext remoteContext, BaggagePolicy baggage, List<String> allowedKeys, long maxReceiveSpans) {
    this.remoteContext = remoteContext;
    this.baggage = baggage;
    this.allowedKeys = allowedKeys;
    this.maxReceiveSpans = maxReceiveSpans;
  }

  /** Trust the peer: its context is the parent, its baggage kept, every message spanned. */
  public static Trust trusted() {
    return TRUSTED;
  }

  /**
   * For a peer on the internet: link to its context from a new trace, drop its baggage, record a
   * session id of this side's own (server), span at most {@value #UNTRUSTED_MAX_RECEIVE_SPANS}
   * received messages per connection.
   */
  public static Trust untrusted() {
    return UNTRUSTED;
  }

  /**
   * A policy.
   *
   * @param remoteContext what a received context does
   * @param baggage which received baggage members are kept
   * @param allowedKeys the keys kept with {@link BaggagePolicy#ALLOW_KEYS} (ignored otherwise)
   * @param maxReceiveSpans how many received messages get a process span; negative: no limit
   */
  public static Trust of(
      RemoteContext remoteContext, BaggagePolicy baggage, List<String> allowedKeys, long maxReceiveSpans) {
    return new Trust(
        Objects.requireNonNull(remoteContext, "remoteContext"),
        Objects.requireNonNull(baggage, "baggage"),
        List.copyOf(allowedKeys),
        Math.max(maxReceiveSpans, -1));
  }

  /** What a received context does. */
  public RemoteContext remoteContext() {
    return remoteContext;
  }

  /** Which received baggage members are kept. */
  public BaggagePolicy baggage() {
    return baggage;
  }

  /** The keys kept with {@link BaggagePolicy#ALLOW_KEYS}. */
  public List<String> allowedKeys() {
    return allowedKeys;
  }

  /** How many received messages get a process span; -1: no limit. */
  public long maxReceiveSpans() {
    return maxReceiveSpans;
  }

  /**
   * {@code received} (from the handshake or a message) as this policy admits it: baggage
   * filtered, the span context dropped under {@link RemoteContext#IGNORE}.
   */
  public TraceContext admit(TraceContext received) {
    Objects.requireNonNull(received, "received");
    try (Scratch s = Scratch.get()) {
      write(s);
      ContextRecords.write(s, received);
      s.call(Native::trustAdmit);
      return ContextRecords.read(s);
    }
  }

  /** A new count of one connection's process spans against {@link #maxReceiveSpans()}. */
  public ReceiveSpanBudget receiveSpanBudget() {
    return new ReceiveSpanBudget(maxReceiveSpans);
  }

  /** The session id a connection of {@code role} records when the peer claimed {@code sessionId}. */
  String sessionId(ConnectionModel.Role role, String sessionId) {
    try (Scratch s = Scratch.get()) {
      s.u8(role.ordinal());
      s.str(sessionId);
      write(s);
      s.call(Native::trustSessionId);
      return s.readStr();
    }
  }

  /** The policy in the native byte format (the native crate's {@code read_trust}). */
  private void write(Scratch s) {
    s.u8(remoteContext.ordinal());
    s.u8(baggage.ordinal());
    s.u32(allowedKeys.size());
    for (String k : allowedKeys) {
      s.str(k);
    }
    s.i64(maxReceiveSpans);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Trust t
        && t.remoteContext == remoteContext
        && t.baggage == baggage
        && t.allowedKeys.equals(allowedKeys)
        && t.maxReceiveSpans == maxReceiveSpans;
  }

  @Override
  public int hashCode() {
    return Objects.hash(remoteContext, baggage, allowedKeys, maxReceiveSpans);
  }

  @Override
  public String toString() {
    return "Trust[remoteContext=" + remoteContext + ", baggage=" + baggage
        + (baggage == BaggagePolicy.ALLOW_KEYS ? " " + allowedKeys : "")
        + ", maxReceiveSpans=" + maxReceiveSpans + "]";
  }
}
