// Traced WebSocket clients (Node's ws) against the Rust core's traced echo
// server (core/examples/echo_server.rs) and a plain ws server, on loopback.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket, { WebSocketServer } from "ws";
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from "@opentelemetry/api";
import { sdk } from "./otel.mjs";
import { freePort, startEcho } from "./echo.mjs";
import * as tw from "../dist/index.js";

const servers = {};
let port;

before(async () => {
  servers.connection = await startEcho("connection");
  servers.message = await startEcho("message");
  port = servers.connection.port;
});

after(() => {
  for (const s of Object.values(servers)) s.proc.kill();
});

/** The next message a traced socket receives, with its handler's context. */
function nextMessage(socket) {
  return new Promise((resolve) => {
    const off = socket.onMessage((msg) => {
      off();
      resolve({ msg, active: context.active() });
    });
  });
}

/** Raw frames the server sent, as the socket saw them before decoding. */
function tapRaw(socket) {
  const frames = [];
  socket.socket.addEventListener("message", (ev) => frames.push(ev.data));
  return frames;
}

async function waitFor(pred, what) {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), what);
}

for (const model of ["connection", "message"]) {
  test(`Rust echo server, ${model} model: the trace continues across the hop, envelopes on the wire`, async () => {
    const { tracer, exporter } = sdk();
    const { port, lines: serverLines } = servers[model];
    const socket = await tw.TracedWebSocket.connect(`ws://127.0.0.1:${port}/chat`, { WebSocket, tracer, model });
    assert.deepEqual(socket.envelopes, { json: true, binary: true });
    assert.equal(socket.socket.protocol, "tracewire.v1.json-binary");
    assert.equal(socket.protocol, "");
    const raw = tapRaw(socket);

    // Text: a JSON message sent inside the application's span.
    const app = tracer.startSpan("user turn");
    const appCtx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, app), propagation.createBaggage({ user: { value: "u-1" } }));
    const payload = JSON.stringify({ type: "chat", text: "hi" });
    const reply = nextMessage(socket);
    context.with(appCtx, () => socket.send(payload));
    const { msg, active } = await reply;
    await waitFor(() => exporter.getFinishedSpans().some((s) => s.name === "process /chat"), "process span ended");
    const spans = exporter.getFinishedSpans();
    const send = spans.find((s) => s.name === "send /chat");
    const traceId = send.spanContext().traceId;
    const connectionSc = trace.getSpanContext(socket.context);
    if (model === "connection") {
      // The application's span is in another trace: the send span is the connection span's child.
      assert.equal(send.parentSpanContext.spanId, connectionSc.spanId);
      assert.equal(traceId, connectionSc.traceId);
    } else {
      assert.equal(send.parentSpanContext.spanId, app.spanContext().spanId);
      assert.equal(traceId, app.spanContext().traceId);
      assert.deepEqual(send.links.map((l) => l.context.spanId), [connectionSc.spanId]);
      assert.equal(propagation.getBaggage(msg.context)?.getEntry("user")?.value, "u-1", "the baggage went there and back");
    }

    assert.equal(msg.kind, "enveloped", "the echo carries the server's context");
    assert.equal(msg.data, payload, "the application gets the payload without the envelope");
    assert.equal(trace.getSpanContext(active).spanId, trace.getSpanContext(msg.context).spanId, "the handler runs in the process span");
    const wire = JSON.parse(raw[0]);
    assert.match(wire.tracewire.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), "the server's envelope on the wire");

    // The server's process span was in the client's trace (it prints it).
    await waitFor(() => serverLines.some((l) => l.endsWith(`in trace ${traceId}`)), "the server saw the client's trace");

    const processed = spans.find((s) => s.name === "process /chat");
    assert.equal(send.kind, SpanKind.PRODUCER);
    assert.equal(send.attributes["messaging.message.body.size"], payload.length);
    assert.equal(processed.kind, SpanKind.CONSUMER);
    assert.equal(processed.spanContext().traceId, traceId, "the reply's process span is in the same trace");
    assert.ok(processed.parentSpanContext.isRemote, "its parent is the server's span");
    assert.ok(!spans.some((s) => s.spanContext().spanId === processed.parentSpanContext.spanId), "a span of the server, not ours");
    assert.equal(processed.attributes["websocket.session.id"], socket.sessionId);
    assert.equal(wire.tracewire.traceparent.slice(36, 52), processed.parentSpanContext.spanId);

    // Binary: prefixed on the wire, payload back unchanged.
    const audio = new Uint8Array([1, 2, 3, 250]);
    const binReply = nextMessage(socket);
    context.with(appCtx, () => socket.send(audio));
    const bin = await binReply;
    assert.equal(bin.msg.kind, "enveloped");
    assert.deepEqual([...bin.msg.data], [...audio]);
    const rawBin = new Uint8Array(raw[1]);
    assert.deepEqual([...rawBin.subarray(0, 4)], [0xf5, 0x54, 0x57, 2]);
    assert.equal(trace.getSpanContext(bin.msg.context).traceId, traceId);

    socket.close(1000, "bye");
    const closed = await socket.closed;
    assert.equal(closed.code, 1000);
    assert.throws(() => socket.send("late"), tw.SocketClosedError);
    app.end();
    const conn = exporter.getFinishedSpans().find((s) => s.name === "connect /chat");
    assert.ok(conn, "the connection span ended");
    if (model === "connection") {
      assert.equal(conn.attributes["websocket.close.code"], 1000);
    } else {
      const closeSpan = exporter.getFinishedSpans().find((s) => s.name === "close /chat");
      assert.equal(closeSpan.parentSpanContext.spanId, conn.spanContext().spanId);
      assert.notEqual(send.spanContext().traceId, conn.spanContext().traceId, "message model: the message is its own trace");
    }
  });
}

test("query handshake (the browser's way) and a JSON-only offer", async () => {
  const { tracer } = sdk();
  const socket = await tw.TracedWebSocket.connect(`ws://127.0.0.1:${port}/room/7?x=1`, {
    WebSocket,
    tracer,
    handshake: "query",
    envelopes: { json: true, binary: false },
  });
  assert.equal(socket.socket.protocol, "tracewire.v1.json");
  const url = new URL(socket.socket.url);
  assert.equal(url.searchParams.get("x"), "1");
  assert.match(url.searchParams.get("traceparent"), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.equal(url.searchParams.get("tracewire-session"), socket.sessionId);
  assert.equal(url.searchParams.get("baggage"), null, "never baggage in a URL");
  const reply = nextMessage(socket);
  socket.send('{"n":1}');
  assert.equal((await reply).msg.data, '{"n":1}');
  socket.close();
  await socket.closed;
});

test("a plain peer: nothing negotiated, frames untouched both ways", async () => {
  const { tracer, exporter } = sdk();
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (offered) => (offered.has("chat") ? "chat" : false) });
  await once(wss, "listening");
  const received = [];
  const lookalike = '{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"a":1}';
  wss.on("connection", (peer, req) => {
    received.push({ headers: req.headers });
    peer.on("message", (data, isBinary) => {
      received.push({ data: isBinary ? [...data] : data.toString() });
      peer.send(lookalike);
    });
  });
  const socket = await tw.TracedWebSocket.connect(`ws://127.0.0.1:${wss.address().port}/`, { WebSocket, tracer, protocols: ["chat"] });
  assert.deepEqual(socket.envelopes, { json: false, binary: false });
  assert.equal(socket.protocol, "chat");
  assert.equal(received[0].headers["sec-websocket-protocol"], "tracewire.v1.json-binary+chat,tracewire.v1.json+chat,tracewire.v1.binary+chat,chat");
  assert.match(received[0].headers.traceparent, /^00-/);
  const reply = nextMessage(socket);
  socket.send('{"text":"hi"}');
  const { msg } = await reply;
  assert.equal(received[1].data, '{"text":"hi"}', "no envelope toward a peer that did not select one");
  assert.equal(msg.kind, "plain");
  assert.equal(msg.data, lookalike, "a frame from a plain peer is the application's, byte for byte");
  socket.send(new Uint8Array([9, 8]));
  await waitFor(() => received.length === 3, "binary received");
  assert.deepEqual(received[2].data, [9, 8]);
  socket.close();
  await socket.closed;
  const processed = exporter.getFinishedSpans().find((s) => s.name === "process /");
  assert.equal(processed.parentSpanContext.spanId, trace.getSpanContext(socket.context).spanId, "without a context, the connection span");
  wss.close();
});

test("the envelopes a client writes: the send span's context and baggage, on a server that selected them", async () => {
  const { tracer, exporter } = sdk();
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "tracewire.v1.json" });
  await once(wss, "listening");
  const got = [];
  wss.on("connection", (peer) => peer.on("message", (d, isBinary) => got.push(isBinary ? [...d] : d.toString())));
  const socket = await tw.TracedWebSocket.connect(`ws://127.0.0.1:${wss.address().port}/`, { WebSocket, tracer, model: "message" });
  assert.deepEqual(socket.envelopes, { json: true, binary: false });
  const app = tracer.startSpan("app");
  const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, app), propagation.createBaggage({ user: { value: "u 1" } }));
  context.with(ctx, () => {
    socket.send('{"a":1}');
    socket.send("not json");
    socket.send(new Uint8Array([7]));
  });
  await waitFor(() => got.length === 3, "three frames");
  const send = exporter.getFinishedSpans().find((s) => s.name === "send /");
  const tp = `00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`;
  assert.equal(got[0], `{"tracewire":{"traceparent":"${tp}","baggage":"user=u%201"},"a":1}`);
  assert.equal(got[1], "not json");
  assert.deepEqual(got[2], [7], "binary was not negotiated: no prefix");
  socket.close();
  await socket.closed;
  app.end();
  wss.close();
});

test("a failed connection rejects with ConnectError and records the error", async () => {
  const { tracer, exporter } = sdk();
  const closedPort = await freePort();
  await assert.rejects(tw.TracedWebSocket.connect(`ws://127.0.0.1:${closedPort}/x`, { WebSocket, tracer }), (e) => e instanceof tw.ConnectError && e.code === "connect_failed");
  const span = exporter.getFinishedSpans().find((s) => s.name === "connect /x");
  assert.equal(span.status.code, 2);
  await assert.rejects(tw.TracedWebSocket.connect("http://127.0.0.1/x", { WebSocket, tracer }), tw.InvalidUrlError);
});
