import type * as wasm from "./wasm/tracewire_wasm.js";
import type { TraceState as ApiTraceState } from "@opentelemetry/api";
import { native } from "./native.js";

/**
 * An OpenTelemetry `TraceState` whose rules are the core's (W3C Trace
 * Context Level 2): every key the Level 2 grammar allows is kept, updating
 * a key moves it to the front, a full list drops its rightmost member, and
 * `serialize()` keeps within 512 characters by whole members. Immutable, as
 * the API requires: `set` and `unset` return a new state.
 *
 * ```ts
 * const ts = TracewireTraceState.parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
 * ts.set("vendor", "1").serialize(); // "vendor=1,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
 * ```
 */
export class TracewireTraceState implements ApiTraceState {
  #header: string;
  #entries?: Map<string, string>;

  /** A state holding `header`, a value the core wrote (use {@link parse} for received ones). */
  private constructor(header: string) {
    this.#header = header;
  }

  /** The state a header value (or header lines) carries; throws `InvalidTracestateError`. */
  static parse(value: string | readonly string[]): TracewireTraceState {
    const state = native.TraceState.parse(typeof value === "string" ? [value] : [...value]);
    try {
      return new TracewireTraceState(state.toHeader());
    } finally {
      state.free();
    }
  }

  /** @internal A state from a header the core has already serialised. */
  static fromCore(header: string): TracewireTraceState {
    return new TracewireTraceState(header);
  }

  /** The state with `key` set to `value`, at the front; unchanged when either is invalid. */
  set(key: string, value: string): TracewireTraceState {
    return this.#update((s) => s.insert(key, value));
  }

  /** The state without `key`. */
  unset(key: string): TracewireTraceState {
    return this.#update((s) => void s.remove(key));
  }

  /** The value of `key`. */
  get(key: string): string | undefined {
    if (this.#entries === undefined) {
      const state = native.TraceState.parse(this.#header === "" ? [] : [this.#header]);
      this.#entries = new Map(state.entries() as [string, string][]);
      state.free();
    }
    return this.#entries.get(key);
  }

  /** The header value. */
  serialize(): string {
    return this.#header;
  }

  #update(change: (s: wasm.TraceState) => void): TracewireTraceState {
    const state = native.TraceState.parse(this.#header === "" ? [] : [this.#header]);
    try {
      change(state);
      return new TracewireTraceState(state.toHeader());
    } catch {
      // W3C: an invalid member is not propagated; the state stays as it was.
      return this;
    } finally {
      state.free();
    }
  }
}
