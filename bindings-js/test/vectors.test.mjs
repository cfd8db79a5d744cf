// Every shared vector file in tests/vectors/, through the JavaScript API
// (the same cases every language runs).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { ROOT_CONTEXT, SpanKind, propagation, trace } from "@opentelemetry/api";
import { sdk } from "./otel.mjs";
import * as tw from "../dist/index.js";

const { native } = tw;
const DIR = new URL("../../tests/vectors/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), "utf8"));
const cases = (name) => load(name).cases;

const COVERED = ["traceparent", "tracestate", "baggage", "envelope_json", "envelope_binary", "handshake", "model", "metrics", "target", "codec", "apply", "trust", "pass_on"];

test("every vector file is covered", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5));
  assert.ok(files.length > 0);
  assert.deepEqual(files.filter((f) => !COVERED.includes(f)), []);
});

/** The core's arguments for a vector context (header strings). */
function ctxArgs(c) {
  let ids = [undefined, undefined, 0];
  if (c?.traceparent) {
    const tp = native.parseTraceparent(c.traceparent);
    ids = [tp.traceId, tp.spanId, tp.traceFlags];
  }
  return [...ids, c?.tracestate ?? undefined, c?.baggage ?? undefined];
}

/** [traceparent, tracestate, baggage] of a received context object, null when absent. */
const headerStrings = (ctx) => [ctx.traceparent ?? null, ctx.tracestate ?? null, ctx.baggage ?? null];
const want = (c) => [c.traceparent, c.tracestate, c.baggage];

const hex = (b) => Buffer.from(b).toString("hex");
const fromHex = (h) => new Uint8Array(Buffer.from(h, "hex"));

function throwsCode(fn, Class, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof Class, `${e} is a ${Class.name}`);
    assert.ok(e instanceof tw.TracewireError);
    assert.equal(e.code, code);
    return true;
  });
}

describe("traceparent", () => {
  for (const c of cases("traceparent")) {
    test(c.name, () => {
      if (!c.valid) return throwsCode(() => native.parseTraceparent(c.input), tw.InvalidTraceparentError, "invalid_traceparent");
      const tp = native.parseTraceparent(c.input);
      assert.deepEqual([tp.traceId, tp.spanId, tp.traceFlags, tp.traceparent], [c.trace_id, c.span_id, c.flags, c.output]);
    });
  }
});

describe("tracestate", () => {
  for (const c of cases("tracestate")) {
    test(c.name, () => {
      if (!c.valid) return throwsCode(() => native.TraceState.parse(c.input), tw.InvalidTracestateError, "invalid_tracestate");
      const ts = native.TraceState.parse(c.input);
      for (const op of c.ops ?? []) {
        if (op[0] === "insert") ts.insert(op[1], op[2]);
        else if (op[0] === "remove") ts.remove(op[1]);
        else if (op[0] === "insert_fails") {
          const before = ts.entries();
          throwsCode(() => ts.insert(op[1], op[2]), tw.InvalidTracestateError, "invalid_tracestate");
          assert.deepEqual(ts.entries(), before, "a failed insert changed the state");
        } else assert.fail(`unknown op ${op}`);
      }
      assert.deepEqual(ts.entries(), c.entries);
      assert.equal(ts.size, c.entries.length);
      for (const [k, v] of c.entries) assert.equal(ts.get(k), v);
      assert.equal(ts.toHeader(), c.output);
      assert.ok(ts.toHeader().length <= 512);
      // The OpenTelemetry TraceState over the same rules.
      if (c.valid && !c.ops) assert.equal(tw.TracewireTraceState.parse(c.input).serialize(), c.output);
    });
  }
});

describe("baggage", () => {
  for (const c of cases("baggage")) {
    test(c.name, () => {
      const build = () => {
        if (!c.build) return native.Baggage.parse(c.input);
        const b = new native.Baggage();
        for (const m of c.build) b.insert(m.key, m.value, m.properties);
        return b;
      };
      if (!c.valid) return throwsCode(build, tw.InvalidBaggageError, "invalid_baggage");
      const bag = build();
      assert.deepEqual(bag.members().map(({ key, value, properties }) => ({ key, value, properties })), c.members);
      assert.equal(bag.size, c.members.length);
      for (const m of c.members) assert.equal(bag.get(m.key), m.value);
      assert.equal(bag.toHeader(), c.output);
      assert.equal(native.Baggage.parse([c.output]).toHeader(), c.output);
    });
  }
});

describe("envelope_json", () => {
  for (const c of cases("envelope_json")) {
    test(c.name, () => {
      const options = { path: c.path, mcp: c.mode === "mcp", strip: c.strip ?? false };
      if (c.op === "inject") {
        const env = new native.JsonEnvelope(options.path, options.mcp, options.strip);
        if (c.valid) return assert.equal(env.inject(c.frame, ...ctxArgs(c.context)), c.expected_frame);
        return throwsCode(() => env.inject(c.frame, ...ctxArgs(c.context)), tw.NotJsonObjectError, c.error_code);
      }
      const d = new tw.JsonEnvelope(options).extract(c.frame);
      assert.equal(d.payload, c.payload, "the payload is always delivered");
      assert.equal(d.kind, c.result);
      if (c.result === "enveloped") {
        assert.equal(d.received.remote, true);
        assert.deepEqual(headerStrings(d.received), want(c.context));
      } else if (c.result === "malformed") {
        assert.ok(d.error instanceof tw.TracewireError);
        assert.equal(d.error.code, c.error_code);
        assert.equal(d.received, undefined);
        assert.equal(d.payload, c.frame, "a malformed frame is delivered as it came");
      } else {
        assert.equal(d.received, undefined);
        assert.equal(d.error, undefined);
      }
    });
  }
});

describe("envelope_binary", () => {
  for (const c of cases("envelope_binary")) {
    test(c.name, () => {
      const frame = fromHex(c.frame);
      if (c.op === "encode") return assert.equal(hex(native.encodeBinaryEnvelope(fromHex(c.payload), ...ctxArgs(c.context))), c.frame);
      const d = tw.decodeBinary(frame);
      assert.equal(hex(d.payload), c.payload);
      assert.equal(d.kind, c.result);
      if (c.result === "enveloped") {
        assert.equal(d.received.remote, true);
        assert.deepEqual(headerStrings(d.received), want(c.context));
      } else if (c.result === "malformed") {
        assert.ok(d.error instanceof tw.TracewireError);
        assert.equal(d.error.code, c.error_code);
      } else {
        assert.equal(d.error, undefined);
        assert.equal(d.received, undefined);
      }
    });
  }
});

const flat = (pairs) => pairs.flat();
const envelopes = (names) => ({ json: names.includes("json"), binary: names.includes("binary") });

describe("handshake", () => {
  for (const c of cases("handshake")) {
    test(c.name, () => {
      const headers = flat(c.headers ?? []);
      switch (c.op) {
        case "extract": {
          const { context, issues } = native.extractRequest(headers, c.query ?? undefined);
          assert.equal(context.remote, true);
          assert.deepEqual(headerStrings(context), want(c.context));
          assert.deepEqual(issues, c.issues);
          return;
        }
        case "inject": {
          const out = native.injectHeaders(...ctxArgs(c.context));
          assert.deepEqual(out, headers);
          return;
        }
        case "offer": {
          const make = () => new native.ClientHandshake(c.envelopes.includes("json"), c.envelopes.includes("binary"), c.app_protocols, "s");
          if (c.error) return throwsCode(make, tw.InvalidArgumentError, c.error);
          assert.deepEqual(make().subprotocols(), c.subprotocols);
          return;
        }
        case "select": {
          const lines = flat(c.offered.map((v) => ["Sec-WebSocket-Protocol", v]));
          const e = envelopes(c.supported);
          const hs = native.acceptRequest(lines, undefined, e.json, e.binary, c.app_protocols);
          assert.equal(hs.subprotocol, c.selected);
          assert.deepEqual({ json: hs.json, binary: hs.binary }, envelopes(c.envelopes));
          assert.equal(hs.appProtocol, c.app_protocol);
          return;
        }
        case "client_reads": {
          const e = envelopes(c.envelopes);
          const client = new native.ClientHandshake(e.json, e.binary, c.app_protocols, "s");
          const n = client.negotiated(c.selected ?? undefined);
          assert.deepEqual({ json: n.json, binary: n.binary }, envelopes(c.accepted));
          assert.equal(n.appProtocol, c.app_protocol);
          return;
        }
        case "session": {
          const hs = native.acceptRequest(headers, c.query ?? undefined, true, true, []);
          if (c.session_id !== null) assert.equal(hs.sessionId, c.session_id);
          else assert.match(hs.sessionId, /^[0-9a-f]{32}$/);
          return;
        }
        default:
          assert.fail(`unknown op ${c.op}`);
      }
    });
  }
  test("generated session ids differ", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => native.newSessionId()));
    assert.equal(ids.size, 1000);
  });
});

function connection(c) {
  const conn = new native.Connection(c.model, c.role, c.session_id, c.url_path);
  if (c.server_address != null) conn.setServer(c.server_address, c.server_port ?? undefined);
  if (c.route != null) conn.setRoute(c.route);
  return conn;
}

const span = (d) => ({ name: d.name, kind: d.kind, parent: d.parent, links: d.links, attributes: d.attributes });

describe("model", () => {
  for (const c of cases("model")) {
    test(c.name, () => {
      const conn = connection(c);
      const mt = c.message_type ?? "text";
      const size = c.size ?? 0;
      let got;
      if (c.event === "open") got = { ...span(conn.open()), ends_at_upgrade: conn.endsAtUpgrade };
      else if (c.event === "send") got = span(conn.send(mt, size));
      else if (c.event === "receive") got = span(conn.receive(mt, size));
      else if (c.event === "close") {
        const d = conn.close(c.close_code ?? undefined, c.close_reason ?? "", 0);
        got = { attributes: d.attributes, is_error: d.isError, span: d.span === null ? null : span(d.span) };
      } else assert.fail(`unknown event ${c.event}`);
      assert.deepEqual(got, c.expected);
    });
  }
});

describe("target", () => {
  for (const c of cases("target")) {
    test(c.name, () => {
      let read;
      if (c.side === "client") read = () => native.targetFromUrl(c.url);
      else {
        const lenient = native.targetFromRequestLenient(c.scheme ?? undefined, c.host ?? undefined, c.request_target);
        assert.deepEqual(lenient, c.lenient ?? c.expected, "lenient");
        read = () => native.targetFromRequest(c.scheme ?? undefined, c.host ?? undefined, c.request_target);
      }
      if (!c.valid) return throwsCode(read, tw.InvalidUrlError, c.error_code);
      assert.deepEqual(read(), c.expected);
      if (c.side === "client") {
        const conn = native.Connection.forUrl("message", "client", "s", c.url);
        assert.equal(conn.open().name, `connect ${c.expected.path}`);
      }
    });
  }
});

const frameOf = (v) => ("utf8" in v ? Buffer.from(v.utf8, "utf8") : Buffer.from(v.hex, "hex"));
const sameForm = (like, b) => ("utf8" in like ? { utf8: typeof b === "string" ? b : Buffer.from(b).toString("utf8") } : { hex: typeof b === "string" ? Buffer.from(b).toString("hex") : hex(b) });

describe("codec", () => {
  for (const c of cases("codec")) {
    test(c.name, () => {
      const options = { path: c.json_path, mcp: c.json_mode === "mcp", strip: c.strip ?? undefined };
      const codec = new tw.MessageCodec(c.envelopes, options);
      const raw = frameOf(c.frame);
      const frame = c.message_type === "text" ? raw.toString("utf8") : new Uint8Array(raw);
      if (c.direction === "send") {
        const args = ctxArgs(c.context);
        const n = new native.Codec(c.envelopes.json, c.envelopes.binary, options.path, options.mcp, options.strip);
        const out = typeof frame === "string" ? n.encodeText(frame, ...args) : n.encodeBinary(frame, ...args);
        assert.deepEqual({ frame: sameForm(c.frame, out ?? frame), enveloped: out !== undefined }, c.expected);
        return;
      }
      const d = codec.decode(frame);
      assert.equal(typeof d.payload, typeof frame);
      let event = null;
      if (d.exceptionEvent !== undefined) {
        const { "exception.message": message, ...rest } = d.exceptionEvent.attributes;
        assert.equal(message, d.error.message);
        event = { name: d.exceptionEvent.name, ...rest };
      }
      if (d.received) assert.equal(d.received.remote, true);
      const got = {
        payload: sameForm(c.frame, d.payload),
        context: d.received ? Object.fromEntries(["traceparent", "tracestate", "baggage"].map((k, i) => [k, headerStrings(d.received)[i]])) : null,
        error_code: d.error?.code ?? null,
        event,
        body_size: d.bodySize,
      };
      assert.deepEqual(got, c.expected);
    });
  }
});

// -- applying span decisions with the real SDK --------------------------------

const FROM = "from";
const APPLY_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const withFrom = (ctx, source) => propagation.setBaggage(ctx, propagation.createBaggage({ [FROM]: { value: source } }));
const kindName = (k) => SpanKind[k].toLowerCase();
const spanShape = (s) => ({ name: s.name, kind: kindName(s.kind), attribute_keys: Object.keys(s.attributes).sort() });

function decisionOf(c, conn) {
  if (c.event === "open") return conn.open();
  if (c.event === "send") return conn.send(c.message_type, c.size);
  if (c.event === "receive") return conn.receive(c.message_type, c.size);
  const close = conn.close(c.close_code ?? undefined, c.close_reason ?? "", 0);
  assert.ok(close.span !== null, "close is a span in this model");
  return close.span;
}

describe("apply", () => {
  for (const c of cases("apply")) {
    test(c.name, () => {
      const { tracer, exporter } = sdk();
      const a = c.available;
      const decision = decisionOf(c, new native.Connection(c.model, c.role, c.session_id, c.url_path));
      const applied = decision.choose(a.remote_has_span, a.remote_has_baggage, a.ambient_has_span, a.ambient_in_connection_trace, a.ambient_is_connection, a.connection_has_span);
      assert.deepEqual(
        { parent: applied.parent, links: applied.linkConnection ? ["connection"] : [], baggage: applied.baggage },
        { parent: c.expected.parent, links: c.expected.links, baggage: c.expected.baggage },
      );

      let connection;
      if (a.connection_has_span) connection = trace.setSpan(withFrom(ROOT_CONTEXT, "connection"), tracer.startSpan("connection", {}, ROOT_CONTEXT));
      let ambient;
      if (a.ambient_has_span && connection && a.ambient_is_connection) ambient = withFrom(connection, "ambient");
      else if (a.ambient_has_span && connection && a.ambient_in_connection_trace) ambient = trace.setSpan(withFrom(connection, "ambient"), tracer.startSpan("ambient", {}, connection));
      else if (a.ambient_has_span) ambient = trace.setSpan(withFrom(ROOT_CONTEXT, "ambient"), tracer.startSpan("ambient", {}, ROOT_CONTEXT));
      else ambient = withFrom(ROOT_CONTEXT, "ambient");
      let remote;
      if (a.remote_has_span || a.remote_has_baggage) {
        remote = tw.Trust.trusted().native.admit(a.remote_has_span ? APPLY_TRACEPARENT : undefined, undefined, a.remote_has_baggage ? "from=remote" : undefined);
      }

      const ctx = tw.startSpan(tracer, decision, { ambient, remote, connection });
      trace.getSpan(ctx).end();
      const s = exporter.getFinishedSpans().find((x) => x.name === decision.name);
      const scOf = (cx) => trace.getSpanContext(cx);
      const parent = c.expected.parent;
      if (parent === "new_trace") {
        assert.equal(s.parentSpanContext, undefined, "a root span");
        for (const other of [ambient, connection]) {
          const sc = other && scOf(other);
          if (sc) assert.notEqual(s.spanContext().traceId, sc.traceId);
        }
      } else {
        assert.ok(s.parentSpanContext);
        if (parent === "remote") {
          assert.deepEqual([s.spanContext().traceId, s.parentSpanContext.spanId, s.parentSpanContext.isRemote], ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true]);
        } else {
          const sc = scOf(parent === "ambient" ? ambient : connection);
          assert.deepEqual([s.spanContext().traceId, s.parentSpanContext.spanId], [sc.traceId, sc.spanId]);
        }
      }
      assert.deepEqual(s.links.map((l) => l.context.spanId), c.expected.links.map(() => scOf(connection).spanId));
      const seen = propagation.getBaggage(ctx)?.getEntry(FROM)?.value;
      assert.equal(seen, c.expected.baggage === "none" ? undefined : c.expected.baggage, "baggage");
      assert.deepEqual(spanShape(s), c.expected.span);
    });
  }
});

describe("trust", () => {
  const doc = load("trust");
  const trustOf = (t) => tw.Trust.of({ remoteContext: t.remote_context, baggage: typeof t.baggage === "object" && !Array.isArray(t.baggage) ? t.baggage.allow_keys : t.baggage, maxReceiveSpans: t.max_receive_spans ?? undefined });

  test("presets", () => {
    assert.ok(trustOf(doc.presets.trusted).equals(tw.Trust.trusted()));
    assert.ok(tw.Trust.of({}).equals(tw.Trust.trusted()));
    assert.ok(trustOf(doc.presets.untrusted).equals(tw.Trust.untrusted()));
    assert.deepEqual(tw.Trust.untrusted().options, { remoteContext: "link", baggage: "drop", maxReceiveSpans: 1024 });
  });

  test("unknown policies are rejected", () => {
    throwsCode(() => tw.Trust.of({ remoteContext: "maybe" }), tw.InvalidArgumentError, "invalid_argument");
    throwsCode(() => tw.Trust.of({ remoteContext: "link", baggage: "some" }), tw.InvalidArgumentError, "invalid_argument");
    throwsCode(() => tw.Trust.of({ remoteContext: "link", baggage: [1] }), tw.InvalidArgumentError, "invalid_argument");
  });

  for (const c of doc.cases) {
    test(c.name, () => {
      const { tracer, exporter } = sdk(c.sampler === "parent_based_always_on");
      const trust = trustOf(c.trust);
      const conn = new native.Connection(c.model, c.role, c.session_id, c.url_path);
      conn.setTrust(trust.native);
      const e = c.expected;
      assert.equal(conn.sessionId === c.session_id, e.session_id_kept, "session id");
      const decision = c.event === "open" ? conn.open() : conn.receive(c.message_type, c.size);
      const r = c.received;
      const remote = trust.native.admit(r.traceparent ?? undefined, undefined, r.baggage || undefined);

      let connection;
      if (c.connection_has_span) connection = trace.setSpan(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ connection: { value: "1" } })), tracer.startSpan("connection", {}, ROOT_CONTEXT));
      let ambient = propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ ambient: { value: "1" } }));
      if (c.ambient_has_span) ambient = trace.setSpan(ambient, tracer.startSpan("ambient", {}, ROOT_CONTEXT));

      const sc = (cx) => cx && trace.getSpanContext(cx);
      const amb = sc(ambient), con = sc(connection);
      const applied = decision.choose(remote.traceId !== undefined, remote.baggageEntries !== undefined, !!amb, !!amb && !!con && amb.traceId === con.traceId, !!amb && !!con && amb.spanId === con.spanId, !!con);
      const links = [...(applied.linkConnection ? ["connection"] : []), ...(applied.linkRemote ? ["remote"] : [])];
      assert.deepEqual({ parent: applied.parent, links, baggage: applied.baggage }, { parent: e.parent, links: e.links, baggage: e.baggage });

      const ctx = tw.startSpan(tracer, decision, { ambient, remote, connection });
      trace.getSpan(ctx).end();
      assert.deepEqual((propagation.getBaggage(ctx)?.getAllEntries() ?? []).map(([k]) => k).sort(), e.baggage_keys, "baggage");
      const s = exporter.getFinishedSpans().find((x) => x.name === decision.name);
      if (!e.sampled) {
        assert.equal(s, undefined, "recorded");
        assert.equal(trace.getSpanContext(ctx).traceFlags & 1, 0);
        return;
      }
      const peer = r.traceparent ? native.parseTraceparent(r.traceparent) : undefined;
      const parents = { remote: () => peer.spanId, ambient: () => amb.spanId, connection: () => con.spanId, new_trace: () => undefined };
      assert.equal(s.parentSpanContext?.spanId, parents[e.parent](), "parent");
      if (peer && e.parent !== "remote") assert.notEqual(s.spanContext().traceId, peer.traceId, "the peer's trace");
      assert.deepEqual(s.links.map((l) => l.context.spanId), e.links.map((l) => (l === "connection" ? con.spanId : peer.spanId)), "links");
      assert.deepEqual(spanShape(s), e.span);
    });
  }

  for (const c of doc.budget_cases) {
    test(c.name, () => {
      const budget = new native.ReceiveSpanBudget(c.max_receive_spans ?? undefined);
      assert.deepEqual(Array.from({ length: c.received }, () => budget.admit()), c.expected.spanned);
      assert.equal(budget.skipped, c.expected.skipped);
      const close = new native.Connection(c.model, "server", "s-1", "/voice").close(1000, "", budget.skipped);
      const on = close.span !== null ? close.span.attributes : close.attributes;
      assert.equal(on["tracewire.receive_spans.skipped"], c.expected.skipped || undefined);
    });
  }
});

const close = (a, b) => (a === null || b === null ? a === b : a === b || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b)));

describe("metrics", () => {
  for (const c of cases("metrics")) {
    test(c.name, () => {
      const m = new native.StreamMetrics(c.kind);
      assert.equal(m.kind, c.kind);
      for (const [ns, size] of c.chunks) m.recordChunkAt(ns, size);
      const s = m.snapshot();
      const e = c.expected;
      const fields = { chunkCount: "chunk_count", bytes: "bytes", timeToFirstChunk: "time_to_first_chunk", timeToLastChunk: "time_to_last_chunk", intervalMean: "interval_mean", intervalP50: "interval_p50", intervalP95: "interval_p95", intervalMax: "interval_max" };
      for (const [js, key] of Object.entries(fields)) assert.ok(close(s[js], e[key]), `${key}: ${s[js]} != ${e[key]}`);
      assert.equal(s.intervals.length, e.intervals.length);
      s.intervals.forEach((v, i) => assert.ok(close(v, e.intervals[i]), `interval ${i}`));
      const attrs = Object.entries(s.attributes);
      assert.deepEqual(attrs.map(([k]) => k), c.expected_attributes.map(([k]) => k));
      attrs.forEach(([k, v], i) => assert.ok(close(v, c.expected_attributes[i][1]), k));
    });
  }
});

describe("pass_on", () => {
  for (const c of cases("pass_on")) {
    test(c.name, () => {
      const [tp, ts] = native.passOn(c.received.traceparent, c.received.tracestate, c.accepted, c.sending.traceparent, c.sending.tracestate);
      assert.deepEqual([tp, ts], [c.expect.traceparent, c.expect.tracestate], c.reason);
    });
  }
});
