// Benchmarks: the core-backed propagator and JSON envelope against
// @opentelemetry/core's W3CTraceContextPropagator and the hand-written
// JSON.parse / JSON.stringify way, checked to give the same result first;
// and the size of the WebAssembly module. `make bench` runs it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator, TraceState } from "@opentelemetry/core";
import * as tw from "../dist/index.js";

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const ROUNDS = 5;

/** Nanoseconds per call of `fn`, the best of ROUNDS rounds after a warm-up. */
function measure(fn) {
  for (let i = 0; i < ITERATIONS / 4; i++) fn();
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  return best;
}

const rows = [];
function compare(name, ours, theirs, target) {
  const a = measure(ours);
  const b = measure(theirs);
  rows.push({ name, ours: a, theirs: b, speedup: b / a, target });
}

const w3c = new W3CTraceContextPropagator();
const tracewire = new tw.TracewirePropagator({ baggage: false });
const carrier = {
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
};
const view = (ctx) => {
  const sc = trace.getSpanContext(ctx);
  return { ...sc, traceState: sc.traceState?.serialize() };
};

// extract: the same Context.
assert.deepEqual(view(tracewire.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter)), view(w3c.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter)));
compare(
  "extract (traceparent + tracestate)",
  () => tracewire.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter),
  () => w3c.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter),
  "≥ 1.0×",
);

// inject: the same headers.
const ctx = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: 1,
  traceState: new TraceState(carrier.tracestate),
});
const injected = (p) => {
  const out = {};
  p.inject(ctx, out, defaultTextMapSetter);
  return out;
};
assert.deepEqual(injected(tracewire), injected(w3c));
compare("inject (traceparent + tracestate)", () => injected(tracewire), () => injected(w3c), "≥ 1.0×");

// JSON envelope, one send and one receive: the same bytes on the wire, the
// same payload and span context on the other side.
const codec = new tw.MessageCodec({ json: true, binary: false });
const payload = JSON.stringify({ type: "chat", id: 42, text: "What is the weather like in Lisbon today?", stream: true });
const ours = () => {
  const wire = codec.encode(payload, ctx);
  const got = codec.decode(wire);
  return [wire, got.payload, tw.receivedContext(got)];
};
const byHand = () => {
  const headers = {};
  w3c.inject(ctx, headers, defaultTextMapSetter);
  const wire = JSON.stringify({ tracewire: headers, ...JSON.parse(payload) });
  const obj = JSON.parse(wire);
  const envelope = obj.tracewire;
  delete obj.tracewire;
  return [wire, JSON.stringify(obj), w3c.extract(ROOT_CONTEXT, envelope, defaultTextMapGetter)];
};
{
  const [w1, p1, c1] = ours();
  const [w2, p2, c2] = byHand();
  assert.equal(w1, w2, "the same bytes on the wire");
  assert.equal(p1, p2);
  assert.equal(p1, payload);
  assert.deepEqual(view(c1), view(c2));
}
compare("JSON envelope send + receive", ours, byHand, "≥ 1.5×");

// Binary envelope (no hand-written counterpart): absolute figures.
const audio = new Uint8Array(640);
const binCodec = new tw.MessageCodec({ json: false, binary: true });
const binNs = measure(() => binCodec.decode(binCodec.encode(audio, ctx)));

// The module's size.
const wasm = readFileSync(new URL("../dist/wasm/tracewire_wasm_bg.wasm", import.meta.url));
const gz = gzipSync(wasm, { level: 9 }).length;

const fmt = (ns) => `${ns.toFixed(0).padStart(6)} ns`;
console.log(`tracewire (wasm) vs @opentelemetry/core ${ITERATIONS} iterations, best of ${ROUNDS}, Node ${process.versions.node}`);
console.log("");
console.log(`${"".padEnd(36)} ${"tracewire".padStart(10)} ${"baseline".padStart(10)}  speedup  target`);
for (const r of rows) {
  const met = r.speedup >= Number.parseFloat(r.target.replace(/[^\d.]/g, "")) ? "met" : "MISSED";
  console.log(`${r.name.padEnd(36)} ${fmt(r.ours)} ${fmt(r.theirs)}  ${r.speedup.toFixed(2)}×    ${r.target} ${met}`);
}
console.log(`${"binary envelope send + receive (640 B)".padEnd(36)} ${fmt(binNs)}`);
console.log("");
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`wasm module: ${kib(wasm.length)} raw, ${kib(gz)} gzipped (target ≤ 150 KiB gzipped: ${gz <= 150 * 1024 ? "met" : "MISSED"})`);
