// The propagator, envelopes and carrier against @opentelemetry/core's W3C
// propagators and the real @opentelemetry/sdk-trace-base.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ROOT_CONTEXT,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  trace,
  baggageEntryMetadataFromString,
} from "@opentelemetry/api";
import { W3CBaggagePropagator, W3CTraceContextPropagator, TraceState, suppressTracing } from "@opentelemetry/core";
import { sdk } from "./otel.mjs";
import * as tw from "../dist/index.js";

const ours = new tw.TracewirePropagator();
const w3c = new W3CTraceContextPropagator();
const w3cBaggage = new W3CBaggagePropagator();
const { tracer, exporter } = sdk();

const inject = (p, ctx) => {
  const carrier = {};
  p.inject(ctx, carrier, defaultTextMapSetter);
  return carrier;
};
const extract = (p, carrier, base = ROOT_CONTEXT) => p.extract(base, carrier, defaultTextMapGetter);
const sc = (ctx) => {
  const s = trace.getSpanContext(ctx);
  return s && { traceId: s.traceId, spanId: s.spanId, traceFlags: s.traceFlags, isRemote: s.isRemote, traceState: s.traceState?.serialize() };
};

test("fields", () => {
  assert.deepEqual(ours.fields(), ["traceparent", "tracestate", "baggage"]);
  assert.deepEqual(new tw.TracewirePropagator({ baggage: false }).fields(), w3c.fields());
  assert.deepEqual(new tw.TracewirePropagator({ traceContext: false }).fields(), w3cBaggage.fields());
});

test("a span of the SDK: our headers are @opentelemetry/core's, and each reads the other's", () => {
  const span = tracer.startSpan("client");
  const state = new TraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  const ctx = trace.setSpanContext(ROOT_CONTEXT, { ...span.spanContext(), traceState: state });
  const mine = inject(ours, ctx);
  const theirs = inject(w3c, ctx);
  assert.deepEqual(mine, theirs);
  assert.match(mine.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.deepEqual(sc(extract(ours, theirs)), sc(extract(w3c, mine)));
  assert.deepEqual(sc(extract(ours, mine)), { ...sc(ctx), isRemote: true });
  span.end();
});

test("extract gives the same span context as @opentelemetry/core for valid and invalid headers", () => {
  const headers = [
    { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tracestate: "a=1,b=2" },
    { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00000000000000000-01" },
    { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" },
    { traceparent: "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    { traceparent: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" },
    { traceparent: "garbage" },
    {},
  ];
  for (const h of headers) assert.deepEqual(sc(extract(ours, h)), sc(extract(w3c, h)), JSON.stringify(h));
});

test("Level 2: more than @opentelemetry/core keeps", () => {
  // Two traceparent lines are invalid (W3C); @opentelemetry/core reads the first.
  const two = { traceparent: ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01"] };
  assert.equal(trace.getSpanContext(extract(ours, two)), undefined);
  // Tracestate lines are combined; a Level 2 key starting with a digit is kept.
  const ctx = extract(ours, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: ["1a@b=2", "rojo=1"] });
  assert.equal(trace.getSpanContext(ctx).traceState.serialize(), "1a@b=2,rojo=1");
  assert.equal(trace.getSpanContext(ctx).traceState.get("1a@b"), "2");
});

test("the random flag is passed on in the received trace, which the SDK drops", () => {
  const received = extract(ours, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", tracestate: "rojo=1" });
  const child = tracer.startSpan("server", {}, received);
  const ctx = trace.setSpan(received, child);
  assert.equal(child.spanContext().traceFlags, 1, "the SDK kept only the sampled flag");
  const out = inject(ours, ctx);
  assert.equal(out.traceparent, `00-4bf92f3577b34da6a3ce929d0e0e4736-${child.spanContext().spanId}-03`);
  assert.equal(out.tracestate, "rojo=1");
  assert.equal(inject(w3c, ctx).traceparent.slice(-2), "01");
  // In another trace, nothing is passed on.
  const other = trace.setSpan(received, tracer.startSpan("root", { root: true }, received));
  assert.equal(inject(ours, other).traceparent.slice(-2), "01");
  child.end();
});

test("unknown flags are not sent (W3C sender rule)", () => {
  const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0xff });
  assert.equal(inject(ours, ctx).traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
});

test("suppressed tracing injects nothing", () => {
  const span = tracer.startSpan("x");
  assert.deepEqual(inject(ours, suppressTracing(trace.setSpan(ROOT_CONTEXT, span))), {});
  span.end();
});

test("baggage: our header is @opentelemetry/core's, and each reads the other's", () => {
  const bag = propagation.createBaggage({
    user: { value: "alice smith" },
    "tenant.id": { value: "a,b=c;d%", metadata: baggageEntryMetadataFromString("ttl=60;secret") },
    emoji: { value: "é✓" },
  });
  const ctx = propagation.setBaggage(ROOT_CONTEXT, bag);
  const mine = inject(ours, ctx).baggage;
  assert.equal(mine, "user=alice%20smith,tenant.id=a%2Cb%3Dc%3Bd%25;ttl=60;secret,emoji=%C3%A9%E2%9C%93");
  const entries = (c) => propagation.getBaggage(c).getAllEntries().map(([k, e]) => [k, e.value, e.metadata?.toString() ?? ""]);
  const want = [["user", "alice smith", ""], ["tenant.id", "a,b=c;d%", "ttl=60;secret"], ["emoji", "é✓", ""]];
  assert.deepEqual(entries(extract(ours, { baggage: mine })), want);
  assert.deepEqual(entries(extract(w3cBaggage, { baggage: mine })), want);
  assert.deepEqual(entries(extract(ours, inject(w3cBaggage, ctx))), want);
  // Invalid baggage is dropped whole (W3C); the trace context is still read.
  const bad = extract(ours, { baggage: "k=v,=nokey", traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  assert.equal(propagation.getBaggage(bad), undefined);
  assert.ok(trace.getSpanContext(bad));
});

test("TracewireTraceState follows the core's rules through the API interface", () => {
  const ts = tw.TracewireTraceState.parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  const set = ts.set("vendor", "1");
  assert.equal(set.serialize(), "vendor=1,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  assert.equal(ts.serialize(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "immutable");
  assert.equal(set.set("congo", "2").serialize(), "congo=2,vendor=1,rojo=00f067aa0ba902b7");
  assert.equal(set.unset("rojo").get("rojo"), undefined);
  assert.equal(set.get("congo"), "t61rcWkgMzE");
  assert.equal(ts.set("Bad Key", "1"), ts, "an invalid member is not taken");
  assert.throws(() => tw.TracewireTraceState.parse("a=1,a"), tw.InvalidTracestateError);
  // A remote parent's state reaches the child span through the SDK.
  const ctx = extract(ours, { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "rojo=1" });
  const child = tracer.startSpan("child", {}, ctx);
  assert.equal(child.spanContext().traceState.serialize(), "rojo=1");
  child.end();
});

test("JSON envelope: a span's context travels in the frame and parents the receiver's span", () => {
  const codec = new tw.MessageCodec({ json: true, binary: true });
  const span = tracer.startSpan("send");
  const sendCtx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), propagation.createBaggage({ k: { value: "v" } }));
  const payload = JSON.stringify({ type: "chat", text: "hi" });
  const wire = context.with(sendCtx, () => codec.encode(payload));
  const tp = `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
  assert.equal(wire, `{"tracewire":{"traceparent":"${tp}","baggage":"k=v"},"type":"chat","text":"hi"}`);
  // The same bytes as writing it by hand with @opentelemetry/core.
  const carrier = inject(w3c, sendCtx);
  assert.equal(wire, JSON.stringify({ tracewire: { traceparent: carrier.traceparent, baggage: "k=v" }, ...JSON.parse(payload) }));
  const got = codec.decode(wire);
  assert.equal(got.kind, "enveloped");
  assert.equal(got.payload, payload, "stripped: the payload the sender wrote");
  assert.equal(got.bodySize, payload.length);
  const recvCtx = tw.receivedContext(got);
  const child = tracer.startSpan("process", {}, recvCtx);
  assert.equal(child.spanContext().traceId, span.spanContext().traceId);
  assert.equal(propagation.getBaggage(recvCtx).getEntry("k").value, "v");
  child.end();
  // Not JSON: untouched both ways.
  assert.equal(context.with(sendCtx, () => codec.encode("hello")), "hello");
  assert.deepEqual(codec.decode("hello"), { kind: "plain", payload: "hello", bodySize: 5 });
  span.end();
});

test("binary envelope: prefixed, read back without copying the payload", () => {
  const codec = new tw.MessageCodec({ json: false, binary: true });
  const span = tracer.startSpan("audio");
  const payload = new Uint8Array([1, 2, 3]);
  const wire = codec.encode(payload, trace.setSpan(ROOT_CONTEXT, span));
  assert.deepEqual([...wire.subarray(0, 4)], [0xf5, 0x54, 0x57, 2]);
  assert.equal(wire.length, 32 + 3);
  const got = codec.decode(wire);
  assert.equal(got.kind, "enveloped");
  assert.deepEqual([...got.payload], [1, 2, 3]);
  assert.equal(got.payload.buffer, wire.buffer, "a view of the frame");
  assert.equal(got.received.spanId, span.spanContext().spanId);
  // Malformed: delivered as it came, with the error and the exception event.
  const bad = codec.decode(new Uint8Array([0xf5, 0x54, 0x57, 2, 0, 3]));
  assert.equal(bad.kind, "malformed");
  assert.ok(bad.error instanceof tw.InvalidEnvelopeError);
  assert.equal(bad.exceptionEvent.attributes["exception.type"], "invalid_envelope");
  span.end();
});

test("JsonEnvelope: not a JSON object throws NotJsonObjectError", () => {
  const env = new tw.JsonEnvelope();
  const span = tracer.startSpan("x");
  assert.throws(() => env.inject("[1,2]", trace.setSpan(ROOT_CONTEXT, span)), (e) => e instanceof tw.NotJsonObjectError && e.code === "not_json_object" && e.codeNumber === 6);
  const mcp = new tw.JsonEnvelope({ mcp: true });
  const out = mcp.inject('{"jsonrpc":"2.0","method":"tools/call","id":1}', trace.setSpan(ROOT_CONTEXT, span));
  assert.equal(JSON.parse(out).params._meta.traceparent.slice(3, 35), span.spanContext().traceId);
  span.end();
});

test("context capture and restore across an async hop", async () => {
  const span = tracer.startSpan("producer");
  const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), propagation.createBaggage({ job: { value: "42" } }));
  const carrier = tw.captureContext(ctx);
  assert.ok(carrier instanceof Uint8Array);
  const restored = await new Promise((resolve) => setTimeout(() => resolve(tw.restoreContext(carrier)), 1));
  assert.deepEqual(sc(restored), { ...sc(ctx), isRemote: true, traceState: undefined });
  assert.equal(propagation.getBaggage(restored).getEntry("job").value, "42");
  assert.throws(() => tw.restoreContext(new Uint8Array([1, 2, 3])), tw.InvalidEnvelopeError);
  span.end();
});

test("errors carry their code and class", () => {
  assert.throws(() => tw.Trust.of({ remoteContext: "nope" }), (e) => e instanceof tw.InvalidArgumentError && e.name === "InvalidArgumentError" && /remote context/.test(e.message));
  assert.throws(() => tw.native.targetFromUrl("http://x"), (e) => e instanceof tw.InvalidUrlError && e.codeNumber === 9);
  exporter.reset();
});
