/**
 * tracewire for JavaScript: end-to-end OpenTelemetry tracing over
 * WebSocket, in browsers and Node 20+. Every rule is the tracewire core's,
 * compiled to WebAssembly; this package adapts it to `@opentelemetry/api`
 * and WebSocket objects.
 * @module
 */
export * from "./errors.js";
export { TracewireTraceState } from "./tracestate.js";
export { TracewirePropagator, type TracewirePropagatorOptions } from "./propagator.js";
export {
  MessageCodec,
  JsonEnvelope,
  encodeBinary,
  decodeBinary,
  receivedContext,
  type DecodedMessage,
  type JsonEnvelopeOptions,
} from "./envelope.js";
export { captureContext, restoreContext } from "./carrier.js";
export type { ReceivedContext } from "./context.js";
export { startSpan, type SpanDecision, type SpanSources } from "./spans.js";
export { Trust, type TrustOptions } from "./trust.js";
export {
  TracedWebSocket,
  ConnectError,
  SocketClosedError,
  selectProtocol,
  type AcceptOptions,
  type UpgradeRequest,
  type ConnectOptions,
  type TracedMessage,
  type WebSocketLike,
  type WebSocketConstructor,
} from "./ws.js";
export { native } from "./native.js";
