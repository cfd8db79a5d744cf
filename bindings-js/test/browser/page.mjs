// The page the browser test loads: a traced WebSocket from a real browser
// (query handshake, subprotocol offer) to the Rust echo server, with the
// OpenTelemetry JS SDK recording the page's spans. The outcome goes to
// window.result for the test to read.
import { ROOT_CONTEXT, propagation, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { TracedWebSocket } from "/dist/index.js";

const exporter = new InMemorySpanExporter();
const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer("page");
const echo = new URL(location.href).searchParams.get("echo");

const next = (socket) => new Promise((resolve) => {
  const off = socket.onMessage((msg) => {
    off();
    resolve(msg);
  });
});

try {
  const socket = await TracedWebSocket.connect(`ws://127.0.0.1:${echo}/chat?room=1`, { tracer, model: "message" });
  const raw = [];
  socket.socket.addEventListener("message", (e) => raw.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data))));
  const click = tracer.startSpan("click");
  const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, click), propagation.createBaggage({ page: { value: "home" } }));
  let reply = next(socket);
  socket.send('{"text":"from the browser"}', ctx);
  const text = await reply;
  reply = next(socket);
  socket.send(new Uint8Array([1, 2, 3]), ctx);
  const binary = await reply;
  click.end();
  socket.close(1000, "done");
  await socket.closed;
  window.result = {
    url: socket.socket.url,
    protocol: socket.socket.protocol,
    clickTraceId: click.spanContext().traceId,
    text: text.data,
    textKind: text.kind,
    textTraceId: trace.getSpanContext(text.context).traceId,
    baggage: propagation.getBaggage(text.context)?.getEntry("page")?.value ?? null,
    binary: Array.from(binary.data),
    binaryKind: binary.kind,
    raw,
    spans: exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      traceId: s.spanContext().traceId,
      parentRemote: s.parentSpanContext?.isRemote ?? null,
    })),
  };
} catch (e) {
  window.result = { error: String(e?.stack ?? e) };
}
