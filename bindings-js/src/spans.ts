import type * as wasm from "./wasm/tracewire_wasm.js";
import {
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
  ROOT_CONTEXT,
  SpanKind,
  isSpanContextValid,
  propagation,
  trace,
} from "@opentelemetry/api";
import { type ReceivedContext, remoteSpanContext, withReceived } from "./context.js";

/** A span decision of the core (`Connection.open()`, `send()`, `receive()`, `close()`). */
export type SpanDecision = wasm.SpanDecision;

const kinds: Record<string, SpanKind> = {
  client: SpanKind.CLIENT,
  server: SpanKind.SERVER,
  producer: SpanKind.PRODUCER,
  consumer: SpanKind.CONSUMER,
  internal: SpanKind.INTERNAL,
};

/** The contexts a span decision chooses from. */
export interface SpanSources {
  /** The caller's context. */
  ambient: Context;
  /** What the peer sent (handshake or envelope), after the trust policy. */
  remote?: ReceivedContext;
  /** The connection span's context. */
  connection?: Context;
}

function valid(ctx: Context | undefined): SpanContext | undefined {
  const sc = ctx === undefined ? undefined : trace.getSpanContext(ctx);
  return sc !== undefined && isSpanContextValid(sc) ? sc : undefined;
}

/**
 * Starts the span `decision` describes, with the parent, links and baggage
 * the core chooses (`model::choose`) from what is available, and returns its
 * context (the span is `trace.getSpan(ctx)`): the context the application's
 * handler runs in.
 */
export function startSpan(tracer: Tracer, decision: SpanDecision, sources: SpanSources): Context {
  const { ambient, remote, connection } = sources;
  const amb = valid(ambient);
  const conn = valid(connection);
  const remoteSc = remote === undefined ? undefined : remoteSpanContext(remote);
  const applied = decision.choose(
    remoteSc !== undefined,
    remote?.baggageEntries !== undefined,
    amb !== undefined,
    amb !== undefined && conn !== undefined && amb.traceId === conn.traceId,
    amb !== undefined && conn !== undefined && amb.spanId === conn.spanId,
    conn !== undefined,
  ) as { parent: string; baggage: string; linkConnection: boolean; linkRemote: boolean };

  let parent: Context;
  switch (applied.parent) {
    case "remote":
      parent = withReceived(remote!, ROOT_CONTEXT);
      break;
    case "ambient":
      parent = ambient;
      break;
    case "connection":
      parent = connection!;
      break;
    default:
      parent = trace.deleteSpan(ROOT_CONTEXT);
  }
  const baggageFrom =
    applied.baggage === "remote"
      ? withReceived(remote!, ROOT_CONTEXT)
      : applied.baggage === "ambient"
        ? ambient
        : applied.baggage === "connection"
          ? connection
          : undefined;
  const bag = baggageFrom === undefined ? undefined : propagation.getBaggage(baggageFrom);
  parent = bag === undefined ? propagation.deleteBaggage(parent) : propagation.setBaggage(parent, bag);

  const links: Link[] = [];
  if (applied.linkConnection && conn !== undefined) links.push({ context: conn });
  if (applied.linkRemote && remoteSc !== undefined) links.push({ context: remoteSc });
  const span: Span = tracer.startSpan(
    decision.name,
    {
      kind: kinds[decision.kind],
      attributes: decision.attributes as Attributes,
      links,
      root: applied.parent === "new_trace",
    },
    parent,
  );
  return trace.setSpan(parent, span);
}
