// The voice assistant's device as a web page: what python/device.py does,
// with the tracewire package over the browser's WebSocket and the
// OpenTelemetry web SDK exporting OTLP/HTTP (JSON) to the receiver. The
// driver (device.mjs) passes the settings in the query string and reads
// the results through window.deviceReport.
import { DiagConsoleLogger, DiagLogLevel, ROOT_CONTEXT, diag, isSpanContextValid, propagation, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, WebTracerProvider } from "@opentelemetry/sdk-trace-web";
import { TracedWebSocket, native } from "tracewire";

const settings = new URL(location.href).searchParams;
const GATEWAY = settings.get("url");
const TURNS = Number(settings.get("turns"));
const MODEL = settings.get("model");
const PACE = Number(settings.get("pace"));
const ENDPOINT = settings.get("endpoint"); // absent: tracing off (OTEL_SDK_DISABLED)
const UTTERANCE_CHUNKS = 25;
const CHUNK_INTERVAL_MS = 20;
const STALL_TIMEOUT_MS = 30_000;
// The user's baggage, as device.py sends it: it must stop at the gateway.
const USER_BAGGAGE = propagation.createBaggage({ "user.id": { value: "u-42" } });

class DeviceError extends Error {}

// Export failures (a receiver without CORS, one that is down) reach the
// driver's stderr through the console.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
let provider;
if (ENDPOINT !== null) {
  provider = new WebTracerProvider({
    // The default resource of the browser build says telemetry.sdk.language=webjs.
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": settings.get("service") })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${ENDPOINT}/v1/traces` }))],
  });
  provider.register();
}
const tracer = trace.getTracer("device");

/** 20 ms (640 bytes) of a continuous 220 Hz tone, 16 kHz 16-bit LE mono PCM, like service.tone_chunk. */
function toneChunk(index) {
  const samples = new Int16Array(320);
  const step = (2 * Math.PI * 220) / 16000;
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(step * (index * 320 + i)));
  return new Uint8Array(samples.buffer);
}

const sleepUntil = (t) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - performance.now())));

/** The received messages in order, awaited one at a time (the socket delivers them as events). */
class Inbox {
  #queue = [];
  #waiting = null;
  constructor(socket) {
    socket.onMessage((msg) => {
      this.#queue.push(msg.data);
      this.#waiting?.();
    });
    socket.closed.then(({ code }) => {
      this.closedWith = code;
      this.#waiting?.();
    });
  }
  async next() {
    const deadline = performance.now() + STALL_TIMEOUT_MS;
    while (this.#queue.length === 0) {
      if (this.closedWith !== undefined) throw new DeviceError(`the gateway closed the connection (${this.closedWith})`);
      if (performance.now() >= deadline) throw new DeviceError(`no progress for ${STALL_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => {
        this.#waiting = resolve;
        setTimeout(resolve, deadline - performance.now());
      });
      this.#waiting = null;
    }
    return this.#queue.shift();
  }
}

/** Connection model: the session's trace (the connect span); message model: none. Both with the user's baggage. */
function turnParent(socket) {
  const withUser = propagation.setBaggage(ROOT_CONTEXT, USER_BAGGAGE);
  return MODEL === "message" ? withUser : trace.setSpan(withUser, trace.getSpan(socket.context));
}

async function speak(socket, inbox, turn) {
  const parent = turnParent(socket);
  // demo.baggage: what the device sends along (the cross-language test checks it reaches nothing past the gateway).
  const keys = propagation.getBaggage(parent).getAllEntries().map(([key]) => key).sort();
  const span = tracer.startSpan("turn", { attributes: { "demo.turn": turn, "demo.baggage": keys.join(",") } }, parent);
  const ctx = trace.setSpan(parent, span);
  try {
    const started = performance.now();
    socket.send(JSON.stringify({ type: "turn.start", turn }), ctx);
    // Like a microphone: each chunk goes out once its 20 ms are recorded.
    for (let index = 0; index < UTTERANCE_CHUNKS; index++) {
      await sleepUntil(started + CHUNK_INTERVAL_MS * PACE * (index + 1));
      socket.send(toneChunk(index), ctx);
    }
    socket.send(JSON.stringify({ type: "turn.end", turn, chunks: UTTERANCE_CHUNKS }), ctx);
    const answer = tracer.startSpan("answer audio", { attributes: { "demo.turn": turn } }, ctx);
    // The core's stream metrics, as tracewire.StreamSpan records them in Python.
    const metrics = new native.StreamMetrics("generic");
    try {
      const announced = await play(inbox, turn, metrics);
      const latencyS = (performance.now() - started) / 1000;
      const snapshot = metrics.snapshot();
      answer.setAttributes(snapshot.attributes);
      if (announced !== snapshot.chunkCount) {
        throw new DeviceError(`turn ${turn}: turn.done says ${announced} audio chunks, ${snapshot.chunkCount} arrived`);
      }
      const spanContext = span.spanContext();
      return {
        turn,
        latency_s: latencyS,
        time_to_first_audio_s: snapshot.timeToFirstChunk,
        time_to_last_audio_s: snapshot.timeToLastChunk,
        audio_chunks: snapshot.chunkCount,
        trace_id: isSpanContextValid(spanContext) ? spanContext.traceId : null,
      };
    } finally {
      metrics.free();
      answer.end();
    }
  } catch (e) {
    span.recordException(e);
    span.setStatus({ code: 2, message: String(e.message) });
    throw e;
  } finally {
    span.end();
  }
}

/** Receives the answer until turn.done, recording each audio chunk; the chunk count turn.done announces. */
async function play(inbox, turn, metrics) {
  for (;;) {
    const data = await inbox.next();
    if (typeof data !== "string") {
      metrics.recordChunk(data.byteLength);
      continue;
    }
    let body;
    try {
      body = JSON.parse(data);
    } catch {
      body = null;
    }
    if (body?.turn !== turn || !["transcript", "turn.done"].includes(body.type)) {
      throw new DeviceError(`turn ${turn}: unexpected message ${data.slice(0, 100)}`);
    }
    if (body.type === "turn.done") {
      if (!Number.isInteger(body.audio_chunks)) throw new DeviceError(`turn ${turn}: turn.done without an audio_chunks count`);
      return body.audio_chunks;
    }
  }
}

async function converse() {
  // A browser's handshake carries only traceparent and the session id (in
  // the query, PROTOCOL.md 12 item 6), so the baggage travels with the turns.
  const socket = await TracedWebSocket.connect(GATEWAY, { model: MODEL });
  const inbox = new Inbox(socket);
  let finished = false;
  try {
    for (let turn = 1; turn <= TURNS; turn++) await window.deviceReport("turn", await speak(socket, inbox, turn));
    finished = true;
  } finally {
    // A browser may close only with 1000 or 3000-4999: 4000 marks a failed session.
    if (inbox.closedWith === undefined) socket.close(finished ? 1000 : 4000, finished ? "" : "device failed");
    await socket.closed;
  }
}

/** Sends the spans left; a failed export is logged (the SDK's warnings go to the driver's stderr), never the device's failure, as in every service. */
async function flush() {
  try {
    await provider?.shutdown();
  } catch (e) {
    console.warn(`spans were not exported: ${e?.message}`);
  }
}

try {
  await converse();
  await flush();
  await window.deviceReport("done");
} catch (e) {
  await flush();
  await window.deviceReport("failed", e instanceof DeviceError ? e.message : `${e?.name}: ${e?.message}`);
}
