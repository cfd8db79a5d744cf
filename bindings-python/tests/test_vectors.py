"""Every shared vector file in ``tests/vectors/``, through the Python API."""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import pytest
from opentelemetry import baggage as otel_baggage
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

import tracewire as tw
from conftest import VECTORS, vector_cases, vector_params

# The baggage entry each source's context carries in the apply vectors,
# naming the source.
FROM = "from"


def test_every_vector_file_is_covered() -> None:
    covered = {
        "traceparent",
        "tracestate",
        "baggage",
        "envelope_json",
        "envelope_binary",
        "handshake",
        "model",
        "metrics",
        "target",
        "codec",
        "apply",
        "trust",
        "pass_on",
    }
    files = {p.stem for p in VECTORS.glob("*.json")}
    assert files, f"no vector files in {VECTORS}"
    assert files <= covered, f"vector files without a Python runner: {files - covered}"


# -- traceparent --------------------------------------------------------------


@pytest.mark.parametrize("case", vector_params("traceparent"))
def test_traceparent(case: Dict[str, Any]) -> None:
    if case["valid"]:
        tp = tw.TraceParent.parse(case["input"])
        assert tp.trace_id == case["trace_id"]
        assert tp.span_id == case["span_id"]
        assert tp.flags == case["flags"]
        assert str(tp) == case["output"] == tp.to_header()
    else:
        with pytest.raises(tw.InvalidTraceParentError) as e:
            tw.TraceParent.parse(case["input"])
        assert e.value.code == tw.ErrorCode.INVALID_TRACEPARENT
        assert isinstance(e.value, ValueError)


# -- tracestate ---------------------------------------------------------------


def _apply_ops(ts: tw.TraceState, ops: List[List[str]]) -> None:
    for op in ops:
        if op[0] == "insert":
            ts.insert(op[1], op[2])
        elif op[0] == "insert_fails":
            before = ts.items()
            with pytest.raises(tw.InvalidTraceStateError):
                ts.insert(op[1], op[2])
            assert ts.items() == before, "a failed insert changed the state"
        elif op[0] == "remove":
            ts.remove(op[1])
        else:
            raise AssertionError(f"unknown op {op}")


@pytest.mark.parametrize("case", vector_params("tracestate"))
def test_tracestate(case: Dict[str, Any]) -> None:
    if not case["valid"]:
        with pytest.raises(tw.InvalidTraceStateError) as e:
            tw.TraceState.parse(case["input"])
        assert e.value.code == tw.ErrorCode.INVALID_TRACESTATE
        return
    ts = tw.TraceState.parse(case["input"])
    _apply_ops(ts, case.get("ops", []))
    expected = [tuple(e) for e in case["entries"]]
    assert ts.items() == expected
    assert len(ts) == len(expected)
    assert bool(ts) == bool(expected)
    for k, v in expected:
        assert ts.get(k) == v and ts[k] == v and k in ts
    assert ts.to_header() == case["output"] == str(ts)
    assert len(ts.to_header()) <= 512
    if len(case["input"]) == 1:
        assert tw.TraceState.parse(case["input"][0]) == tw.TraceState.parse(case["input"])


# -- baggage ------------------------------------------------------------------


def _member(m: Dict[str, Any]) -> tw.BaggageMember:
    return tw.BaggageMember(m["key"], m["value"], [(p[0], p[1]) for p in m["properties"]])


@pytest.mark.parametrize("case", vector_params("baggage"))
def test_baggage(case: Dict[str, Any]) -> None:
    def build() -> tw.Baggage:
        if "build" in case:
            return tw.Baggage([_member(m) for m in case["build"]])
        return tw.Baggage.parse(case["input"])

    if not case["valid"]:
        with pytest.raises(tw.InvalidBaggageError) as e:
            build()
        assert e.value.code == tw.ErrorCode.INVALID_BAGGAGE
        return
    bag = build()
    expected = [_member(m) for m in case["members"]]
    assert bag.members() == expected
    assert len(bag) == len(expected)
    for m in expected:
        assert bag.get(m.key) == m.value
    assert bag.to_header() == case["output"]
    reparsed = tw.Baggage.parse(case["output"])
    assert reparsed.to_header() == case["output"]


# -- envelopes ----------------------------------------------------------------


def _context(c: Dict[str, Any], remote: bool = False) -> tw.TraceContext:
    return tw.TraceContext(c.get("traceparent"), c.get("tracestate"), c.get("baggage"), remote=remote)


def _header_strings(ctx: tw.TraceContext) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    tp = ctx.traceparent
    return (
        None if tp is None else str(tp),
        ctx.tracestate.to_header() or None,
        ctx.baggage.to_header() or None,
    )


@pytest.mark.parametrize("case", vector_params("envelope_json"))
def test_envelope_json(case: Dict[str, Any]) -> None:
    strip = case.get("strip", False)
    env = tw.JsonEnvelope.mcp(strip=strip) if case.get("mode") == "mcp" else tw.JsonEnvelope(case["path"], strip=strip)
    frame = case["frame"]
    if case["op"] == "inject":
        ctx = _context(case["context"])
        if case["valid"]:
            assert env.inject(frame, ctx) == case["expected_frame"]
            # bytes in, bytes out, same content
            assert env.inject(frame.encode(), ctx) == case["expected_frame"].encode()
        else:
            with pytest.raises(tw.Error) as e:
                env.inject(frame, ctx)
            assert e.value.code.code_name == case["error_code"]
        return
    for given in (frame, frame.encode()):
        decoded = env.extract(given)
        payload = decoded.payload
        assert type(payload) is type(given)
        want = case["payload"] if isinstance(given, str) else case["payload"].encode()
        assert payload == want, "the payload is always delivered"
        assert decoded.status == case["result"]
        if case["result"] == "enveloped":
            assert decoded.context is not None and decoded.context.remote
            assert decoded.is_enveloped and decoded.error is None
            assert _header_strings(decoded.context) == _header_strings(_context(case["context"]))
        elif case["result"] == "malformed":
            assert isinstance(decoded.error, tw.Error)
            assert decoded.error.code.code_name == case["error_code"]
            assert decoded.context is None and decoded.is_malformed
            assert decoded.payload == given, "a malformed frame is delivered as it came"
        else:
            assert decoded.context is None and decoded.error is None
            assert decoded.payload is given


@pytest.mark.parametrize("case", vector_params("envelope_binary"))
def test_envelope_binary(case: Dict[str, Any]) -> None:
    frame = bytes.fromhex(case["frame"])
    payload = bytes.fromhex(case["payload"])
    if case["op"] == "encode":
        assert tw.encode_binary(payload, _context(case["context"])) == frame
        assert tw.encode_binary(bytearray(payload), _context(case["context"])) == frame
        return
    decoded = tw.decode_binary(frame)
    assert decoded.payload == payload
    assert decoded.status == case["result"]
    if case["result"] == "enveloped":
        assert decoded.context is not None and decoded.context.remote
        # As a receiver re-emits it: unknown trace flags zeroed.
        assert _header_strings(decoded.context) == _header_strings(_context(case["context"]))
    elif case["result"] == "malformed":
        assert isinstance(decoded.error, tw.InvalidEnvelopeError) or isinstance(decoded.error, tw.Error)
        assert decoded.error is not None and decoded.error.code.code_name == case["error_code"]
    else:
        assert decoded.error is None and decoded.context is None


# -- handshake ----------------------------------------------------------------


def _envelopes(names: List[str]) -> tw.Envelopes:
    return tw.Envelopes(json="json" in names, binary="binary" in names)


def _header_carriers(pairs: List[Tuple[str, str]]) -> List[Any]:
    """The same headers as a list of pairs, and as websockets' Headers."""
    from websockets.datastructures import Headers

    carriers: List[Any] = [pairs, Headers(pairs)]
    names = [k.lower() for k, _ in pairs]
    if len(set(names)) == len(names):  # a dict cannot hold repeated lines
        carriers.append(dict(pairs))
    return carriers


@pytest.mark.parametrize("case", vector_params("handshake"))
def test_handshake(case: Dict[str, Any]) -> None:
    pairs = [(h[0], h[1]) for h in case.get("headers", [])]
    query = case.get("query")
    op = case["op"]
    if op == "extract":
        for carrier in _header_carriers(pairs):
            ctx, issues = tw.extract(carrier, query)
            assert ctx.remote
            c = case["context"]
            assert _header_strings(ctx) == (c["traceparent"], c["tracestate"], c["baggage"])
            assert [i.code.code_name for i in issues] == case["issues"]
            assert all(isinstance(i, tw.Error) for i in issues)
    elif op == "inject":
        ctx = _context(case["context"])
        out: List[Tuple[str, str]] = []
        tw.inject(ctx, out)
        assert out == pairs
        d: Dict[str, str] = {}
        tw.inject(ctx, d)
        assert list(d.items()) == pairs
        assert ctx.headers() == pairs
        assert tw.extract(d)[0].traceparent == ctx.traceparent
    elif op == "offer":
        if "error" in case:
            with pytest.raises(tw.InvalidArgumentError):
                tw.ClientHandshake(_envelopes(case["envelopes"]), "s", case["app_protocols"])
        else:
            client = tw.ClientHandshake(_envelopes(case["envelopes"]), "s", case["app_protocols"])
            assert client.subprotocols() == case["subprotocols"]
    elif op == "select":
        lines = [("Sec-WebSocket-Protocol", v) for v in case["offered"]]
        hs = tw.ServerHandshake(lines, None, _envelopes(case["supported"]), case["app_protocols"])
        assert hs.subprotocol == case["selected"]
        assert hs.envelopes == _envelopes(case["envelopes"])
        assert hs.app_protocol == case["app_protocol"]
        want = [] if case["selected"] is None else [("sec-websocket-protocol", case["selected"])]
        assert hs.response_headers() == want
    elif op == "client_reads":
        client = tw.ClientHandshake(_envelopes(case["envelopes"]), "s", case["app_protocols"])
        envelopes, app = client.negotiated(case["selected"])
        assert envelopes == _envelopes(case["accepted"])
        assert app == case["app_protocol"]
    elif op == "session":
        hs = tw.ServerHandshake(pairs, query)
        if case["session_id"] is not None:
            assert hs.session_id == case["session_id"]
        else:
            assert len(hs.session_id) == 32
            assert all(ch in "0123456789abcdef" for ch in hs.session_id)
    else:
        raise AssertionError(f"unknown op {op}")


def test_generated_session_ids_differ() -> None:
    assert len({tw.new_session_id() for _ in range(1000)}) == 1000


# -- tracing models -----------------------------------------------------------


def _span(d: tw.SpanDecision) -> Dict[str, Any]:
    return {
        "name": d.name,
        "kind": d.kind,
        "parent": list(d.parent),
        "links": list(d.links),
        "attributes": d.attributes,
    }


@pytest.mark.parametrize("case", vector_params("model"))
def test_model(case: Dict[str, Any]) -> None:
    conn = tw.Connection(
        case["model"],
        case["role"],
        case["session_id"],
        case["url_path"],
        case.get("server_address"),
        case.get("server_port"),
        case.get("route"),
    )
    event = case["event"]
    mt = case.get("message_type") or "text"
    size = case.get("size") or 0
    if event == "open":
        got = _span(conn.open())
        got["ends_at_upgrade"] = conn.connection_span_ends_at_upgrade
    elif event == "send":
        got = _span(conn.send(mt, size))
    elif event == "receive":
        got = _span(conn.receive(mt, size))
    elif event == "close":
        d = conn.close(case.get("close_code"), case.get("close_reason") or "")
        got = {
            "attributes": d.attributes,
            "is_error": d.is_error,
            "span": None if d.span is None else _span(d.span),
        }
    else:
        raise AssertionError(f"unknown event {event}")
    assert got == case["expected"]


# -- URL to span target ------------------------------------------------------


def _target(t: tw.Target) -> Dict[str, Any]:
    return {"address": t.address, "port": t.port, "path": t.path}


@pytest.mark.parametrize("case", vector_params("target"))
def test_target(case: Dict[str, Any]) -> None:
    read: Callable[[], tw.Target]
    if case["side"] == "client":
        url = case["url"]
        read = lambda: tw.Target.from_url(url)  # noqa: E731
    elif case["side"] == "server":
        scheme, host, request_target = case["scheme"], case["host"], case["request_target"]
        lenient = tw.Target.from_request_lenient(scheme, host, request_target)
        assert _target(lenient) == case.get("lenient", case.get("expected")), "lenient"
        read = lambda: tw.Target.from_request(scheme, host, request_target)  # noqa: E731
    else:
        raise AssertionError(f"unknown side {case['side']}")
    if not case["valid"]:
        with pytest.raises(tw.InvalidUrlError) as e:
            read()
        assert e.value.code == tw.ErrorCode.INVALID_URL
        assert e.value.code.code_name == case["error_code"]
        assert isinstance(e.value, ValueError)
        return
    target = read()
    assert _target(target) == case["expected"]
    assert target == read() and hash(target) == hash(read())
    # The connection records exactly the target.
    conn = tw.Connection.from_target("message", "client", "s", target)
    assert (conn.url_path, conn.server_address, conn.server_port) == (target.path, target.address, target.port)
    assert conn.open().name == f"connect {target.path}"


# -- message codec ------------------------------------------------------------


def _frame_bytes(v: Dict[str, str]) -> bytes:
    if "utf8" in v:
        return v["utf8"].encode()
    return bytes.fromhex(v["hex"])


def _same_form(like: Dict[str, str], b: Union[str, bytes]) -> Dict[str, str]:
    raw = b.encode() if isinstance(b, str) else b
    return {"utf8": raw.decode()} if "utf8" in like else {"hex": raw.hex()}


@pytest.mark.parametrize("case", vector_params("codec"))
def test_codec(case: Dict[str, Any]) -> None:
    codec = tw.Codec(
        tw.Envelopes(json=case["envelopes"]["json"], binary=case["envelopes"]["binary"]),
        # Absent: the core's default (strip), which Python does not restate.
        tw.JsonEnvelope.mcp(strip=case.get("strip"))
        if case.get("json_mode") == "mcp"
        else tw.JsonEnvelope(case["json_path"], strip=case.get("strip")),
    )
    raw = _frame_bytes(case["frame"])
    # websockets' types: a text frame is a str, a binary frame bytes.
    frame: Union[str, bytes] = raw.decode() if case["message_type"] == "text" else raw
    expected = case["expected"]
    if case["direction"] == "send":
        out = codec.encode(frame, _context(case["context"]))
        assert type(out) is type(frame)
        assert {"frame": _same_form(case["frame"], out), "enveloped": out is not frame} == expected
        return
    assert case["direction"] == "receive"
    decoded = codec.decode(frame)
    assert type(decoded.payload) is type(frame)
    event: Optional[Dict[str, Any]] = None
    ev = decoded.exception_event
    if ev is not None:
        attrs = ev.attributes
        assert attrs.pop("exception.message") == str(decoded.error)
        event = {"name": ev.name, **attrs}
    ctx = decoded.context
    if ctx is not None:
        assert ctx.remote, "a received context is remote"
    got = {
        "payload": _same_form(case["frame"], decoded.payload),
        "context": None if ctx is None else dict(zip(("traceparent", "tracestate", "baggage"), _header_strings(ctx))),
        "error_code": None if decoded.error is None else decoded.error.code.code_name,
        "event": event,
        "body_size": decoded.body_size,
    }
    assert got == expected


# -- applying a span decision -------------------------------------------------

APPLY_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _decision(case: Dict[str, Any]) -> tw.SpanDecision:
    conn = tw.Connection(case["model"], case["role"], case["session_id"], case["url_path"])
    event = case["event"]
    if event == "open":
        return conn.open()
    if event == "send":
        return conn.send(case["message_type"], case["size"])
    if event == "receive":
        return conn.receive(case["message_type"], case["size"])
    if event == "close":
        span = conn.close(case.get("close_code"), case.get("close_reason") or "").span
        assert span is not None, "close is a span in this model"
        return span
    raise AssertionError(f"unknown event {event}")


@pytest.mark.parametrize("case", vector_params("apply"))
def test_apply(case: Dict[str, Any], tracer: trace.Tracer, exporter: InMemorySpanExporter) -> None:
    decision = _decision(case)
    want = tw.Available(**case["available"])
    a = case["available"]
    expected = case["expected"]

    # The pure choice.
    applied = decision.choose(want)
    assert {
        "parent": applied.parent,
        "links": ["connection"] if applied.link_connection else [],
        "baggage": applied.baggage,
    } == {k: expected[k] for k in ("parent", "links", "baggage")}

    # Real contexts matching the case, each with baggage naming it.
    def with_from(ctx: Context, source: str) -> Context:
        return otel_baggage.set_baggage(FROM, source, ctx)

    connection: Optional[Context] = None
    if a["connection_has_span"]:
        conn_span = tracer.start_span("connection", context=Context())
        connection = trace.set_span_in_context(conn_span, with_from(Context(), "connection"))
    if a["ambient_has_span"] and connection is not None and a["ambient_is_connection"]:
        ambient = with_from(connection, "ambient")
    elif a["ambient_has_span"] and connection is not None and a["ambient_in_connection_trace"]:
        ambient = trace.set_span_in_context(tracer.start_span("ambient", context=connection), with_from(connection, "ambient"))
    elif a["ambient_has_span"]:
        ambient = trace.set_span_in_context(tracer.start_span("ambient", context=Context()), with_from(Context(), "ambient"))
    else:
        ambient = with_from(Context(), "ambient")  # baggage without a span: never a new trace's
    remote: Optional[tw.TraceContext] = None
    if a["remote_has_span"] or a["remote_has_baggage"]:
        remote = tw.TraceContext(
            APPLY_TRACEPARENT if a["remote_has_span"] else None,
            baggage="from=remote" if a["remote_has_baggage"] else None,
            remote=True,
        )
    assert tw.Available.read(ambient, remote, connection) == want, "the contexts read back"

    # Applied through the binding's span-starting path (what tracewire.ws uses).
    ctx = tw.start_span(tracer, decision, ambient=ambient, remote=remote, connection=connection)
    trace.get_current_span(ctx).end()
    (span,) = exporter.get_finished_spans()

    def span_context(c: Optional[Context]) -> trace.SpanContext:
        assert c is not None
        return trace.get_current_span(c).get_span_context()

    parent = expected["parent"]
    if parent == "new_trace":
        assert span.parent is None, "a root span"
        for other in (ambient, connection):
            if other is not None:
                assert span.context.trace_id != span_context(other).trace_id
    else:
        assert span.parent is not None
        if parent == "remote":
            tp = tw.TraceParent.parse(APPLY_TRACEPARENT)
            want_parent = (int(tp.trace_id, 16), int(tp.span_id, 16))
            assert span.parent.is_remote
        else:
            sc = span_context(ambient if parent == "ambient" else connection)
            want_parent = (sc.trace_id, sc.span_id)
        assert (span.context.trace_id, span.parent.span_id) == want_parent
    assert [link.context.span_id for link in span.links] == [span_context(connection).span_id for _ in expected["links"]]
    seen = otel_baggage.get_baggage(FROM, ctx)
    assert seen == (None if expected["baggage"] == "none" else expected["baggage"]), "baggage"
    assert {
        "name": span.name,
        "kind": span.kind.name.lower(),
        "attribute_keys": sorted(span.attributes or {}),
    } == expected["span"]


# -- trust policy -------------------------------------------------------------


def _trust_doc() -> Dict[str, Any]:
    with open(VECTORS / "trust.json", encoding="utf-8") as f:
        doc: Dict[str, Any] = json.load(f)
    return doc


def _trust(t: Dict[str, Any]) -> tw.Trust:
    baggage = t["baggage"]
    keys = baggage["allow_keys"] if isinstance(baggage, dict) else baggage
    return tw.Trust(t["remote_context"], keys, t.get("max_receive_spans"))


def test_trust_presets() -> None:
    presets = _trust_doc()["presets"]
    assert _trust(presets["trusted"]) == tw.Trust.trusted() == tw.Trust()
    assert _trust(presets["untrusted"]) == tw.Trust.untrusted()


def test_trust_rejects_unknown_policies() -> None:
    with pytest.raises(tw.InvalidArgumentError):
        tw.Trust("maybe")
    with pytest.raises(tw.InvalidArgumentError):
        tw.Trust("link", "some")
    with pytest.raises(tw.InvalidArgumentError):
        tw.Trust("link", [1])


@pytest.mark.parametrize("case", vector_params("trust"))
def test_trust(case: Dict[str, Any]) -> None:
    exporter = InMemorySpanExporter()
    root = ALWAYS_ON if case["sampler"] == "parent_based_always_on" else ALWAYS_OFF
    provider = TracerProvider(sampler=ParentBased(root))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("vectors")
    conn = tw.Connection(
        case["model"], case["role"], case["session_id"], case["url_path"], trust=_trust(case["trust"])
    )
    expected = case["expected"]
    assert (conn.session_id == case["session_id"]) == expected["session_id_kept"], "session id"
    if case["event"] == "open":
        decision = conn.open()
    else:
        decision = conn.receive(case["message_type"], case["size"])

    received = case["received"]
    remote = conn.trust.admit(
        tw.TraceContext(received["traceparent"], baggage=received["baggage"] or None, remote=True)
    )
    connection: Optional[Context] = None
    if case["connection_has_span"]:
        conn_span = tracer.start_span("connection", context=Context())
        connection = trace.set_span_in_context(conn_span, otel_baggage.set_baggage("connection", "1", Context()))
    ambient = otel_baggage.set_baggage("ambient", "1", Context())
    if case["ambient_has_span"]:
        ambient = trace.set_span_in_context(tracer.start_span("ambient", context=Context()), ambient)

    applied = decision.choose(tw.Available.read(ambient, remote, connection))
    links = ["connection"] * applied.link_connection + ["remote"] * applied.link_remote
    assert {"parent": applied.parent, "links": links, "baggage": applied.baggage} == {
        k: expected[k] for k in ("parent", "links", "baggage")
    }

    ctx = tw.start_span(tracer, decision, ambient=ambient, remote=remote, connection=connection)
    trace.get_current_span(ctx).end()
    assert sorted(otel_baggage.get_all(ctx)) == expected["baggage_keys"], "baggage"
    if not expected["sampled"]:
        assert not exporter.get_finished_spans(), "recorded"
        assert not trace.get_current_span(ctx).get_span_context().trace_flags.sampled
        return
    (span,) = exporter.get_finished_spans()

    def span_id(c: Optional[Context]) -> int:
        assert c is not None
        return trace.get_current_span(c).get_span_context().span_id

    peer = tw.TraceParent.parse(received["traceparent"]) if received["traceparent"] else None
    peer_span = int(peer.span_id, 16) if peer else 0
    parents: Dict[str, Callable[[], Optional[int]]] = {
        "remote": lambda: peer_span,
        "ambient": lambda: span_id(ambient),
        "connection": lambda: span_id(connection),
        "new_trace": lambda: None,
    }
    want_parent = parents[expected["parent"]]()
    assert (span.parent.span_id if span.parent else None) == want_parent, "parent"
    if peer is not None and expected["parent"] != "remote":
        assert span.context.trace_id != int(peer.trace_id, 16), "the peer's trace"
    want_links = [span_id(connection) if l == "connection" else peer_span for l in expected["links"]]
    assert [link.context.span_id for link in span.links] == want_links, "links"
    assert {
        "name": span.name,
        "kind": span.kind.name.lower(),
        "attribute_keys": sorted(span.attributes or {}),
    } == expected["span"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in _trust_doc()["budget_cases"]])
def test_trust_budget(case: Dict[str, Any]) -> None:
    budget = tw.ReceiveSpanBudget(case["max_receive_spans"])
    expected = case["expected"]
    assert [budget.admit() for _ in range(case["received"])] == expected["spanned"]
    assert budget.skipped == expected["skipped"]
    close = tw.Connection(case["model"], "server", "s-1", "/voice").close(
        1000, receive_spans_skipped=budget.skipped
    )
    recorded_on = close.span.attributes if close.span is not None else close.attributes
    want = expected["skipped"] or None
    assert recorded_on.get("tracewire.receive_spans.skipped") == want


# -- stream metrics -----------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(b, float) or isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


@pytest.mark.parametrize("case", vector_params("metrics"))
def test_metrics(case: Dict[str, Any]) -> None:
    m = tw.StreamMetrics(case["kind"])
    assert m.kind == case["kind"]
    for elapsed_ns, size in case["chunks"]:
        m.record_chunk_at(elapsed_ns, size)
    snap, intervals = m.snapshot_and_intervals()
    exp = case["expected"]
    for field in ("chunk_count", "bytes", "time_to_first_chunk", "time_to_last_chunk", "interval_mean", "interval_p50", "interval_p95", "interval_max"):
        assert _close(getattr(snap, field), exp[field]), field
    assert len(intervals) == len(exp["intervals"])
    assert all(_close(a, b) for a, b in zip(intervals, exp["intervals"]))
    attrs = list(snap.attributes().items())
    want = [(k, v) for k, v in case["expected_attributes"]]
    assert [k for k, _ in attrs] == [k for k, _ in want]
    for (_, got), (key, value) in zip(attrs, want):
        assert type(got) is type(value) or (isinstance(value, float) and isinstance(got, float)), key
        assert _close(got, value), key
    assert _close(m.snapshot().chunk_count, exp["chunk_count"])


@pytest.mark.parametrize("case", vector_params("pass_on"))
def test_pass_on(case: Dict[str, Any]) -> None:
    received = tw.Received(
        tw.TraceParent.parse(case["received"]["traceparent"]),
        tw.TraceState.parse(case["received"]["tracestate"]),
        tw.TraceState.parse(case["accepted"]),
    )
    traceparent, tracestate = received.pass_on(
        tw.TraceParent.parse(case["sending"]["traceparent"]),
        tw.TraceState.parse(case["sending"]["tracestate"]),
    )
    assert traceparent.to_header() == case["expect"]["traceparent"], case["reason"]
    assert tracestate.to_header() == case["expect"]["tracestate"], case["reason"]
