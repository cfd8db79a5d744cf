import type * as wasm from "./wasm/tracewire_wasm.js";
import { native } from "./native.js";

/** A trust policy's settings (PROTOCOL.md 12.1). */
export interface TrustOptions {
  /** What a received span context is: a `parent` (default), a `link`, or dropped (`ignore`). */
  remoteContext?: "parent" | "link" | "ignore";
  /** Which received baggage reaches the handler: `keep_all` (default), `drop`, or the allowed keys. */
  baggage?: "keep_all" | "drop" | string[];
  /** How many received messages get a process span (default: no limit). */
  maxReceiveSpans?: number;
}

/**
 * How far an endpoint trusts its peer: whether a received context parents
 * spans, which baggage gets in, how many receive spans a connection may
 * start. An endpoint facing clients it does not control must use
 * {@link Trust.untrusted}.
 */
export class Trust {
  /** @internal */
  readonly native: wasm.Trust;

  private constructor(inner: wasm.Trust) {
    this.native = inner;
  }

  /** A policy; throws `InvalidArgumentError` for an unknown setting. */
  static of(options: TrustOptions): Trust {
    return new Trust(new native.Trust(options.remoteContext ?? "parent", options.baggage ?? "keep_all", options.maxReceiveSpans));
  }

  /** The default: the peer's context is a parent and its baggage is kept. */
  static trusted(): Trust {
    return new Trust(native.Trust.trusted());
  }

  /** Links instead of parents, drops baggage, at most 1024 receive spans per connection. */
  static untrusted(): Trust {
    return new Trust(native.Trust.untrusted());
  }

  /** The settings. */
  get options(): Required<Omit<TrustOptions, "maxReceiveSpans">> & { maxReceiveSpans: number | null } {
    return this.native.describe() as Required<Omit<TrustOptions, "maxReceiveSpans">> & { maxReceiveSpans: number | null };
  }

  /** Whether both policies are the same. */
  equals(other: Trust): boolean {
    return this.native.equals(other.native);
  }
}
