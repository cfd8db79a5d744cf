// Between OpenTelemetry contexts and the core's: what a context sends, and
// the context a received one becomes.
import {
  type Baggage,
  type Context,
  type SpanContext,
  ROOT_CONTEXT,
  TraceFlags,
  baggageEntryMetadataFromString,
  createContextKey,
  isSpanContextValid,
  propagation,
  trace,
} from "@opentelemetry/api";
import { native } from "./native.js";
import { TracewireTraceState } from "./tracestate.js";

/**
 * A received context as the core reads it: header values as the core writes
 * them, and what a span context needs.
 */
export interface ReceivedContext {
  traceparent?: string;
  traceId?: string;
  spanId?: string;
  traceFlags?: number;
  tracestate?: string;
  baggage?: string;
  /** `[key, value, metadata, ...]`. */
  baggageEntries?: string[];
  /** Always true: it came from outside this process or task. */
  remote?: boolean;
}

/**
 * The `traceparent` and `tracestate` this process received, kept beside the
 * SDK's span context when it received the Level 2 random flag, which the
 * SDK does not keep (PROTOCOL.md 2.4; the state itself is kept whole by
 * {@link TracewireTraceState}).
 */
export const RECEIVED_KEY = createContextKey("tracewire received context");

interface Received {
  traceId: string;
  traceparent: string;
  tracestate?: string;
}

const RANDOM = 0x02;

/**
 * A span context the core packed in 57 characters: the `traceparent` as a
 * sender writes it, then the flags as received (every bit).
 */
export function unpackSpanContext(packed: string): { traceparent: string; traceId: string; spanId: string; traceFlags: number } {
  return {
    traceparent: packed.slice(0, 55),
    traceId: packed.slice(3, 35),
    spanId: packed.slice(36, 52),
    traceFlags: parseInt(packed.slice(55, 57), 16),
  };
}

/** The arguments the core takes for a context to send. */
export type Outgoing = [
  traceId: string | undefined,
  spanId: string | undefined,
  flags: number,
  tracestate: string | undefined,
  baggage: string | undefined,
];

const baggageHeaders = new WeakMap<Baggage, string>();

/** The `baggage` header of an OpenTelemetry baggage (cached: baggage is immutable). */
export function baggageHeader(baggage: Baggage): string {
  let header = baggageHeaders.get(baggage);
  if (header === undefined) {
    const keys: string[] = [];
    const values: string[] = [];
    const metadata: string[] = [];
    for (const [key, entry] of baggage.getAllEntries()) {
      keys.push(key);
      values.push(entry.value);
      metadata.push(entry.metadata?.toString() ?? "");
    }
    header = keys.length === 0 ? "" : native.baggageHeader(keys, values, metadata);
    baggageHeaders.set(baggage, header);
  }
  return header;
}

/**
 * The `traceparent` (55 characters) followed by the `tracestate` to send for
 * a span context, the received context passed on when it is in the same
 * trace; `undefined` for an invalid span context.
 */
export function outgoingTraceparent(ctx: Context, sc: SpanContext): string | undefined {
  const received = ctx.getValue(RECEIVED_KEY) as Received | undefined;
  const same = received !== undefined && received.traceId === sc.traceId;
  return native.injectTraceparent(
    sc.traceId,
    sc.spanId,
    sc.traceFlags,
    sc.traceState?.serialize(),
    same ? received.traceparent : undefined,
    same ? received.tracestate : undefined,
  );
}

/** The core's arguments for what `ctx` sends: its span context and baggage. */
export function outgoing(ctx: Context): Outgoing {
  const sc = trace.getSpanContext(ctx);
  const bag = propagation.getBaggage(ctx);
  const baggage = bag === undefined ? undefined : baggageHeader(bag);
  if (sc === undefined || !isSpanContextValid(sc)) {
    return [undefined, undefined, 0, undefined, baggage];
  }
  if (ctx.getValue(RECEIVED_KEY) === undefined) {
    return [sc.traceId, sc.spanId, sc.traceFlags, sc.traceState?.serialize(), baggage];
  }
  const out = outgoingTraceparent(ctx, sc);
  if (out === undefined) return [undefined, undefined, 0, undefined, baggage];
  return [sc.traceId, sc.spanId, parseInt(out.slice(53, 55), 16), out.slice(55), baggage];
}

/** The OpenTelemetry baggage of `[key, value, metadata, ...]` entries. */
export function baggageOf(entries: readonly string[]): Baggage {
  const record: Record<string, { value: string; metadata?: ReturnType<typeof baggageEntryMetadataFromString> }> = {};
  for (let i = 0; i + 2 < entries.length; i += 3) {
    const meta = entries[i + 2];
    record[entries[i]] = meta === "" ? { value: entries[i + 1] } : { value: entries[i + 1], metadata: baggageEntryMetadataFromString(meta) };
  }
  return propagation.createBaggage(record);
}

/** The remote span context of a received context, if it has one. */
export function remoteSpanContext(received: ReceivedContext): SpanContext | undefined {
  if (received.traceId === undefined || received.spanId === undefined) return undefined;
  return {
    traceId: received.traceId,
    spanId: received.spanId,
    traceFlags: received.traceFlags ?? TraceFlags.NONE,
    isRemote: true,
    traceState: received.tracestate === undefined ? undefined : TracewireTraceState.fromCore(received.tracestate),
  };
}

/**
 * `base` with a received context: its span context (remote) and its baggage
 * (replacing `base`'s; a received context without baggage removes it).
 */
export function withReceived(received: ReceivedContext, base: Context = ROOT_CONTEXT): Context {
  let ctx = base.deleteValue(RECEIVED_KEY);
  const sc = remoteSpanContext(received);
  if (sc !== undefined) {
    ctx = trace.setSpanContext(ctx, sc);
    if ((sc.traceFlags & RANDOM) !== 0 && received.traceparent !== undefined) {
      const kept: Received = { traceId: sc.traceId, traceparent: received.traceparent, tracestate: received.tracestate };
      ctx = ctx.setValue(RECEIVED_KEY, kept);
    }
  }
  return received.baggageEntries === undefined
    ? propagation.deleteBaggage(ctx)
    : propagation.setBaggage(ctx, baggageOf(received.baggageEntries));
}
