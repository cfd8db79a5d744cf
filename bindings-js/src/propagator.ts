import {
  type Context,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  createContextKey,
  isSpanContextValid,
  propagation,
  trace,
} from "@opentelemetry/api";
import { RECEIVED_KEY, baggageHeader, baggageOf, outgoingTraceparent, unpackSpanContext } from "./context.js";
import { native } from "./native.js";
import { TracewireTraceState } from "./tracestate.js";

// @opentelemetry/core's key (createContextKey is Symbol.for, so the same key):
// instrumentation that must not be traced sets it, and propagators honour it.
const SUPPRESS_TRACING = createContextKey("OpenTelemetry SDK Context Key SUPPRESS_TRACING");
const RANDOM = 0x02;

/** Which headers a {@link TracewirePropagator} reads and writes. */
export interface TracewirePropagatorOptions {
  /** `traceparent` and `tracestate` (default true). */
  traceContext?: boolean;
  /** `baggage` (default true). */
  baggage?: boolean;
}

function one(v: string | string[] | undefined): string | string[] | undefined {
  return Array.isArray(v) && v.length === 1 ? v[0] : v;
}

/**
 * The W3C Trace Context and W3C Baggage propagator, with the core's parsing
 * and serialisation: the same headers as `@opentelemetry/core`'s
 * `W3CTraceContextPropagator` and `W3CBaggagePropagator`, with Level 2
 * rules (tracestate keys, the random flag kept while in the received trace,
 * known flags only on output) and the size limits of PROTOCOL.md section 11.
 *
 * ```ts
 * import { propagation } from "@opentelemetry/api";
 * import { TracewirePropagator } from "tracewire";
 * propagation.setGlobalPropagator(new TracewirePropagator());
 * ```
 */
export class TracewirePropagator implements TextMapPropagator {
  readonly #traceContext: boolean;
  readonly #baggage: boolean;
  readonly #fields: string[];

  constructor(options: TracewirePropagatorOptions = {}) {
    this.#traceContext = options.traceContext ?? true;
    this.#baggage = options.baggage ?? true;
    this.#fields = [
      ...(this.#traceContext ? ["traceparent", "tracestate"] : []),
      ...(this.#baggage ? ["baggage"] : []),
    ];
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (context.getValue(SUPPRESS_TRACING) === true) return;
    if (this.#traceContext) {
      const sc = trace.getSpanContext(context);
      if (sc !== undefined && isSpanContextValid(sc)) {
        const out = outgoingTraceparent(context, sc);
        if (out !== undefined) {
          setter.set(carrier, "traceparent", out.length === 55 ? out : out.slice(0, 55));
          if (out.length > 55) setter.set(carrier, "tracestate", out.slice(55));
        }
      }
    }
    if (this.#baggage) {
      const bag = propagation.getBaggage(context);
      if (bag !== undefined) {
        const header = baggageHeader(bag);
        if (header !== "") setter.set(carrier, "baggage", header);
      }
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let ctx = context;
    if (this.#traceContext) {
      const tp = one(getter.get(carrier, "traceparent"));
      if (tp !== undefined) {
        const ts = one(getter.get(carrier, "tracestate"));
        const s =
          typeof tp === "string" && !Array.isArray(ts)
            ? native.extractTraceparent(tp, ts)
            : native.extractTraceparentLines(
                Array.isArray(tp) ? tp : [tp],
                ts === undefined ? [] : Array.isArray(ts) ? ts : [ts],
              );
        if (s !== undefined) {
          const received = unpackSpanContext(s);
          ctx = trace.setSpanContext(ctx, {
            traceId: received.traceId,
            spanId: received.spanId,
            traceFlags: received.traceFlags,
            isRemote: true,
            traceState: ts === undefined ? undefined : TracewireTraceState.fromCore(s.slice(57)),
          });
          if ((received.traceFlags & RANDOM) !== 0) {
            ctx = ctx.setValue(RECEIVED_KEY, { ...received, tracestate: s.length > 57 ? s.slice(57) : undefined });
          }
        }
      }
    }
    if (this.#baggage) {
      const b = getter.get(carrier, "baggage");
      if (b !== undefined) {
        const entries = native.extractBaggage(Array.isArray(b) ? b.join(",") : b) as string[];
        if (entries.length > 0) ctx = propagation.setBaggage(ctx, baggageOf(entries));
      }
    }
    return ctx;
  }

  fields(): string[] {
    return [...this.#fields];
  }
}
