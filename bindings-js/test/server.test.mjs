// A traced ws server (TracedWebSocket.accept, selectProtocol) with traced
// and plain clients on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket, { WebSocketServer } from "ws";
import { ROOT_CONTEXT, SpanKind, context, propagation, trace } from "@opentelemetry/api";
import { sdk } from "./otel.mjs";
import * as tw from "../dist/index.js";

async function server(options, onSocket) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: tw.selectProtocol(options) });
  await once(wss, "listening");
  wss.on("connection", (ws, req) => onSocket(tw.TracedWebSocket.accept(ws, req, options)));
  return wss;
}

for (const model of ["connection", "message"]) {
  test(`JS client to JS server, ${model} model: one trace there and back`, async () => {
    const client = sdk();
    const srv = sdk();
    const seen = [];
    const wss = await server({ tracer: srv.tracer, model, route: "/chat/{room}" }, (socket) => {
      socket.onMessage((msg) => {
        seen.push({ data: msg.data, traceId: trace.getSpanContext(context.active()).traceId, user: propagation.getBaggage(msg.context)?.getEntry("user")?.value });
        socket.send(typeof msg.data === "string" ? msg.data.toUpperCase() : msg.data);
      });
    });
    const socket = await tw.TracedWebSocket.connect(`ws://127.0.0.1:${wss.address().port}/chat/7`, { WebSocket, tracer: client.tracer, model });
    assert.deepEqual(socket.envelopes, { json: true, binary: true });
    const app = client.tracer.startSpan("turn");
    const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, app), propagation.createBaggage({ user: { value: "u-1" } }));
    const reply = new Promise((resolve) => socket.onMessage((m) => resolve(m)));
    socket.send('{"text":"hi"}', ctx);
    const msg = await reply;
    assert.equal(msg.data, '{"TEXT":"HI"}');
    assert.equal(msg.kind, "enveloped");

    const send = client.exporter.getFinishedSpans().find((s) => s.name === "send /chat/7");
    const traceId = send.spanContext().traceId;
    assert.equal(seen[0].data, '{"text":"hi"}');
    assert.equal(seen[0].traceId, traceId, "the server's handler ran in the client's trace");
    assert.equal(trace.getSpanContext(msg.context).traceId, traceId, "and the reply came back in it");

    await new Promise((r) => setTimeout(r, 20));
    const sspans = srv.exporter.getFinishedSpans();
    const processed = sspans.find((s) => s.name === "process /chat/{room}");
    assert.equal(processed.kind, SpanKind.CONSUMER);
    assert.equal(processed.parentSpanContext.spanId, send.spanContext().spanId, "the server's process span is the client's send span's child");
    assert.equal(processed.attributes["url.path"], "/chat/7");
    assert.equal(processed.attributes["messaging.destination.template"], "/chat/{room}");
    assert.equal(processed.attributes["websocket.session.id"], socket.sessionId, "both record the client's session id");
    if (model === "message") assert.equal(seen[0].user, "u-1", "baggage in the envelope");

    socket.close(1000);
    await socket.closed;
    await new Promise((r) => setTimeout(r, 20));
    // The accept span ends at the upgrade (message model) or at the close.
    const accept = srv.exporter.getFinishedSpans().find((s) => s.name === "accept /chat/{room}");
    assert.equal(accept.kind, SpanKind.SERVER);
    assert.equal(accept.parentSpanContext.spanId, trace.getSpanContext(socket.context).spanId, "the handshake carried the connection span");
    if (model === "connection") assert.equal(accept.attributes["websocket.close.code"], 1000);
    app.end();
    wss.close();
  });
}

test("untrusted server: the client's context is a link, its baggage and session id are not taken", async () => {
  const client = sdk();
  const srv = sdk();
  let serverSession;
  const wss = await server({ tracer: srv.tracer, trust: tw.Trust.untrusted() }, (socket) => {
    serverSession = socket.sessionId;
    socket.onMessage(() => socket.send("ok"));
  });
  const socket = await tw.TracedWebSocket.connect(`ws://127.0.0.1:${wss.address().port}/`, { WebSocket, tracer: client.tracer });
  const reply = new Promise((resolve) => socket.onMessage(resolve));
  socket.send('{"a":1}');
  await reply;
  await new Promise((r) => setTimeout(r, 20));
  assert.notEqual(serverSession, socket.sessionId);
  const processed = srv.exporter.getFinishedSpans().find((s) => s.name === "process /");
  const send = client.exporter.getFinishedSpans().find((s) => s.name === "send /");
  assert.notEqual(processed.spanContext().traceId, send.spanContext().traceId, "not the client's trace");
  assert.ok(processed.links.some((l) => l.context.spanId === send.spanContext().spanId), "linked to the client's send span");
  socket.close();
  await socket.closed;
  wss.close();
});

test("a plain client of a traced server: no subprotocol, no envelopes, frames untouched", async () => {
  const srv = sdk();
  const wss = await server({ tracer: srv.tracer }, (socket) => {
    socket.onMessage((msg) => socket.send(`${msg.kind}:${msg.data}`));
  });
  const plain = new WebSocket(`ws://127.0.0.1:${wss.address().port}/`);
  await once(plain, "open");
  assert.equal(plain.protocol, "");
  plain.send('{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"a":1}');
  const [data] = await once(plain, "message");
  assert.equal(data.toString(), 'plain:{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"a":1}', "not read, not stripped, no envelope back");
  plain.close();
  await once(plain, "close");
  wss.close();
});
