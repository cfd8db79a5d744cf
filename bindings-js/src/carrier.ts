import { type Context, ROOT_CONTEXT, context as api } from "@opentelemetry/api";
import { type ReceivedContext, outgoing, withReceived } from "./context.js";
import { native } from "./native.js";

/**
 * Captures a context (span context, tracestate, baggage) as a small carrier
 * for queues, workers and job records (PROTOCOL.md 6).
 *
 * ```ts
 * queue.push({ job, carrier: captureContext() });
 * // ... in the consumer:
 * context.with(restoreContext(item.carrier), () => run(item.job));
 * ```
 */
export function captureContext(ctx: Context = api.active()): Uint8Array {
  return native.toCarrier(...outgoing(ctx));
}

/** The context a carrier holds, on `base` (a remote span context); throws `InvalidEnvelopeError`. */
export function restoreContext(carrier: Uint8Array, base: Context = ROOT_CONTEXT): Context {
  return withReceived(native.fromCarrier(carrier) as ReceivedContext, base);
}
