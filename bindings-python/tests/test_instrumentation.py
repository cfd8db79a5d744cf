"""The websockets instrumentor around unmodified ``websockets`` clients and
servers on loopback: spans through the SDK's in-memory exporter, the
envelopes on the wire, plain peers untouched, settings, uninstrument."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Dict, Iterator, List, Optional

import pytest
import websockets
import websockets.asyncio.client
import websockets.asyncio.server
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import tracewire as tw
from tracewire import ws as tws
from tracewire.instrumentation import WebsocketsInstrumentor

TIMEOUT = 10.0
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))  # type: ignore[arg-type]


@pytest.fixture
def instrument(provider: TracerProvider) -> Iterator[Any]:
    """``instrument(**kwargs)`` with the test's provider; uninstrumented after."""
    instrumentor = WebsocketsInstrumentor()

    def start(**kwargs: Any) -> WebsocketsInstrumentor:
        instrumentor.instrument(tracer_provider=provider, **kwargs)
        return instrumentor

    yield start
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def plain(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A ``websockets`` client or server the instrumentor leaves alone: what
    an uninstrumented peer (another process, a browser) would be."""
    return tws._explicit_call(fn, *args, **kwargs)


async def wait_for_spans(exporter: InMemorySpanExporter, name: str, count: int = 1) -> None:
    for _ in range(300):
        if sum(1 for s in exporter.get_finished_spans() if s.name == name) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"span {name!r} not finished: {[s.name for s in exporter.get_finished_spans()]}")


def of(spans: List[ReadableSpan], kind: SpanKind, name: Optional[str] = None) -> List[ReadableSpan]:
    return [s for s in spans if s.kind == kind and (name is None or s.name == name)]


def port_of(server: Any) -> int:
    return int(server.sockets[0].getsockname()[1])


# The application: plain websockets code, no tracewire in it.


async def echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


async def client_session(uri: str, messages: List[Any], **kwargs: Any) -> Dict[str, Any]:
    async with websockets.connect(uri, **kwargs) as ws:
        replies = []
        for message in messages:
            await ws.send(message)
            replies.append(await ws.recv())
        return {"replies": replies, "subprotocol": ws.subprotocol, "wire": ws.protocol.subprotocol}


def test_unmodified_client_and_server_connection_model(
    instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument()
    seen: Dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        seen["traceparent"] = ws.request.headers.get("traceparent")
        seen["subprotocol"] = ws.subprotocol
        await echo(ws)

    async def main() -> Dict[str, Any]:
        # the top-level aliases users import
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            result = await client_session(
                f"ws://127.0.0.1:{port_of(server)}/chat", [json.dumps({"text": "hi"}), b"\x01audio", "not json"]
            )
            await wait_for_spans(exporter, "accept /chat")
            return result

    result = run(main())
    assert result["replies"] == ['{"text": "hi"}', b"\x01audio", "not json"], "the application sees its own payloads"
    assert result["subprotocol"] is None and seen["subprotocol"] is None, "no application protocol"
    assert result["wire"] == "tracewire.v1.json-binary"

    spans = exporter.get_finished_spans()
    (connect,) = of(spans, SpanKind.CLIENT, "connect /chat")
    (accept,) = of(spans, SpanKind.SERVER, "accept /chat")
    assert all(s.context.trace_id == connect.context.trace_id for s in spans), "one trace per connection"
    assert tw.TraceParent.parse(seen["traceparent"]).span_id == format(connect.context.span_id, "016x")
    assert accept.parent is not None and accept.parent.span_id == connect.context.span_id
    sends, processes = of(spans, SpanKind.PRODUCER), of(spans, SpanKind.CONSUMER)
    assert len(sends) == 6 and len(processes) == 6
    # every enveloped message's process span is the child of the send span that sent it
    send_ids = {s.context.span_id for s in sends}
    enveloped = [p for p in processes if p.parent is not None and p.parent.span_id in send_ids]
    assert len(enveloped) == 4, "JSON and binary, both directions"
    # each reply is sent while its request's process span is current
    process_ids = {p.context.span_id for p in processes}
    server_sends = [s for s in sends if s.attributes["websocket.session.id"] and s.parent and s.parent.span_id in process_ids]  # type: ignore[index]
    assert len(server_sends) >= 3
    for s in (connect, accept):
        assert s.attributes is not None
        assert s.attributes["websocket.close.code"] == 1000
        assert s.attributes["tracewire.model"] == "connection"
        assert s.status.status_code != StatusCode.ERROR


def test_message_model_from_the_environment(
    instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_TRACEWIRE_MODEL", "message")
    instrument()

    async def main() -> None:
        async with websockets.asyncio.server.serve(echo, "127.0.0.1", 0) as server:
            await client_session(f"ws://127.0.0.1:{port_of(server)}/voice", ['{"n":1}'])
            await wait_for_spans(exporter, "close /voice", 2)

    run(main())
    spans = exporter.get_finished_spans()
    (connect,) = of(spans, SpanKind.CLIENT)
    (accept,) = of(spans, SpanKind.SERVER)
    sends = of(spans, SpanKind.PRODUCER)
    assert connect.end_time is not None and all(connect.end_time <= (s.start_time or 0) for s in sends)
    for s in sends + of(spans, SpanKind.CONSUMER):
        assert s.attributes is not None and s.attributes["tracewire.model"] == "message"
        assert {link.context.span_id for link in s.links} & {connect.context.span_id, accept.context.span_id}


def test_keyword_arguments_win_over_the_environment(
    instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_TRACEWIRE_MODEL", "message")
    monkeypatch.setenv("OTEL_PYTHON_TRACEWIRE_ENVELOPES", "json")
    instrument(model="connection", server_trust="untrusted")

    async def main() -> Dict[str, Any]:
        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            result = await client_session(f"ws://127.0.0.1:{port_of(server)}/t", ['{"n":1}'])
            await wait_for_spans(exporter, "accept /t")
            return result

    assert run(main())["wire"] == "tracewire.v1.json", "envelopes from the environment"
    spans = exporter.get_finished_spans()
    (connect,) = of(spans, SpanKind.CLIENT)
    (accept,) = of(spans, SpanKind.SERVER)
    assert accept.attributes is not None and accept.attributes["tracewire.model"] == "connection"
    # untrusted: the client's context is only linked, from a new trace
    assert accept.parent is None and accept.context.trace_id != connect.context.trace_id
    assert [link.context.span_id for link in accept.links] == [connect.context.span_id]


def test_invalid_settings(instrument: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="model"):
        instrument(model="per-frame")
    monkeypatch.setenv("OTEL_PYTHON_TRACEWIRE_MODEL", "per-frame")
    with caplog.at_level(logging.WARNING, logger="tracewire.instrumentation"):
        instrument()  # the application still starts, with the default
    assert "OTEL_PYTHON_TRACEWIRE_MODEL" in caplog.text


def test_application_subprotocol(instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    instrument()
    seen: Dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        seen["server"] = ws.subprotocol
        await echo(ws)

    async def main() -> Dict[str, Any]:
        async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["mcp"]) as server:
            return await client_session(f"ws://127.0.0.1:{port_of(server)}/mcp", ['{"a":1}'], subprotocols=["mcp"])

    result = run(main())
    assert result["subprotocol"] == "mcp" and seen["server"] == "mcp", "each side sees its own protocol's name"
    assert result["wire"] == "tracewire.v1.json-binary+mcp"


def test_application_select_subprotocol_is_composed(instrument: Any, exporter: InMemorySpanExporter) -> None:
    instrument()
    offered: List[Any] = []

    def select(ws: Any, subprotocols: Any) -> Any:
        offered.extend(subprotocols)
        return "v2" if "v2" in subprotocols else None

    async def main() -> Dict[str, Any]:
        async with websockets.serve(echo, "127.0.0.1", 0, select_subprotocol=select) as server:
            return await client_session(f"ws://127.0.0.1:{port_of(server)}/s", ["x"], subprotocols=["v1", "v2"])

    result = run(main())
    assert offered == ["v1", "v2"], "the application chooses among its own protocols"
    assert result["subprotocol"] == "v2" and result["wire"] == "tracewire.v1.json-binary+v2"


def test_envelopes_on_the_wire(instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    instrument()
    frames: List[Any] = []

    async def raw_peer(ws: Any) -> None:
        # A peer that selects the first offer blindly and shows the wire.
        async for frame in ws:
            frames.append(frame)

    async def main() -> Any:
        server = await plain(
            websockets.asyncio.server.serve, raw_peer, "127.0.0.1", 0, select_subprotocol=lambda ws, offer: offer[0]
        )
        async with server:
            async with websockets.connect(f"ws://127.0.0.1:{port_of(server)}/w") as ws:
                await ws.send('{"text":"hi"}')
                await ws.send(b"pcm")
            await wait_for_spans(exporter, "connect /w")
            for _ in range(100):
                if len(frames) == 2:
                    break
                await asyncio.sleep(0.01)

        # and the other way: a raw client that offers the token and envelopes itself
        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            async with plain(
                websockets.asyncio.client.connect,
                f"ws://127.0.0.1:{port_of(server)}/r",
                subprotocols=["tracewire.v1.json"],
            ) as ws:
                await ws.send(json.dumps({"tracewire": {"traceparent": TP}, "text": "hi"}))
                return await ws.recv()

    reply = run(main())
    text, binary = frames
    (connect,) = of(exporter.get_finished_spans(), SpanKind.CLIENT, "connect /w")
    envelope = json.loads(text)["tracewire"]
    assert json.loads(text)["text"] == "hi"
    assert tw.TraceParent.parse(envelope["traceparent"]).trace_id == format(connect.context.trace_id, "032x")
    assert binary.startswith(b"\xf5TW") and binary.endswith(b"pcm") and binary != b"pcm"
    # the server's application saw the payload without the envelope and echoed
    # it; its reply carries the server's send span
    back = json.loads(reply)
    assert back["text"] == "hi" and set(back) == {"text", "tracewire"}
    spans = exporter.get_finished_spans()
    (process,) = of(spans, SpanKind.CONSUMER, "process /r")
    assert process.parent is not None and format(process.parent.span_id, "016x") == TP[36:52]
    (send,) = of(spans, SpanKind.PRODUCER, "send /r")
    assert tw.TraceParent.parse(back["tracewire"]["traceparent"]).span_id == format(send.context.span_id, "016x")


def test_plain_peers_untouched(instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    instrument()
    frames: List[Any] = []
    looks_enveloped = ['{"tracewire":{"traceparent":"' + TP + '"},"x":1}', b"\xf5TW\x01\x00raw"]

    async def plain_echo(ws: Any) -> None:
        async for frame in ws:
            frames.append(frame)
            await ws.send(frame)

    async def main() -> List[Any]:
        # an instrumented server and a plain client
        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            async with plain(websockets.asyncio.client.connect, f"ws://127.0.0.1:{port_of(server)}/a") as ws:
                assert ws.subprotocol is None
                got = []
                for frame in looks_enveloped:
                    await ws.send(frame)
                    got.append(await ws.recv())
            await wait_for_spans(exporter, "accept /a")
        # an instrumented client and a plain server
        async with plain(websockets.asyncio.server.serve, plain_echo, "127.0.0.1", 0) as server:
            result = await client_session(f"ws://127.0.0.1:{port_of(server)}/b", looks_enveloped)
        return got + result["replies"]

    assert run(main()) == looks_enveloped * 2
    assert frames == looks_enveloped, "a plain server gets the exact frames"
    spans = exporter.get_finished_spans()
    accept_processes = [s for s in of(spans, SpanKind.CONSUMER, "process /a")]
    assert len(accept_processes) == 2 and all(
        s.parent is not None and s.parent.span_id == of(spans, SpanKind.SERVER)[0].context.span_id
        for s in accept_processes
    ), "no context taken from a peer that negotiated nothing"


def test_handler_failure_closes_with_1011(instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    instrument()

    async def handler(ws: Any) -> None:
        await ws.recv()
        raise ValueError("handler bug")

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            async with websockets.connect(f"ws://127.0.0.1:{port_of(server)}/f") as ws:
                await ws.send("x")
                with pytest.raises(websockets.exceptions.ConnectionClosedError):
                    await ws.recv()
            await wait_for_spans(exporter, "accept /f")

    run(main())
    spans = exporter.get_finished_spans()
    (accept,) = of(spans, SpanKind.SERVER)
    assert accept.status.status_code == StatusCode.ERROR
    assert accept.attributes is not None and accept.attributes["websocket.close.code"] == 1011
    (process,) = of(spans, SpanKind.CONSUMER)
    assert process.status.status_code == StatusCode.ERROR and any(e.name == "exception" for e in process.events)


def test_explicit_api_is_not_traced_twice(instrument: Any, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    instrument()

    async def handler(conn: tws.TracedConnection) -> None:
        async for msg in conn:
            await conn.send(msg.data)

    async def main() -> Any:
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/x", tracer_provider=provider) as conn:
                await conn.send('{"a":1}')
                reply = await conn.recv()
            await wait_for_spans(exporter, "accept /x")
            return reply

    reply = run(main())
    assert reply.data == '{"a":1}' and reply.remote_context is not None
    spans = exporter.get_finished_spans()
    assert len(of(spans, SpanKind.CLIENT)) == 1 and len(of(spans, SpanKind.SERVER)) == 1
    assert len(of(spans, SpanKind.PRODUCER)) == 2 and len(of(spans, SpanKind.CONSUMER)) == 2


def test_uninstrument_restores_the_originals(instrument: Any, exporter: InMemorySpanExporter) -> None:
    serve, init = websockets.asyncio.server.serve, websockets.asyncio.client.connect.__init__
    instrumentor = instrument()
    assert websockets.asyncio.server.serve is not serve and websockets.serve is websockets.asyncio.server.serve
    instrumentor.uninstrument()
    assert websockets.asyncio.server.serve is serve and websockets.serve is serve
    assert websockets.asyncio.client.connect.__init__ is init
    seen: Dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        seen["traceparent"] = ws.request.headers.get("traceparent")
        await echo(ws)

    async def main() -> Dict[str, Any]:
        async with websockets.serve(handler, "127.0.0.1", 0) as server:
            return await client_session(f"ws://127.0.0.1:{port_of(server)}/u", ['{"a":1}'])

    result = run(main())
    assert result["replies"] == ['{"a":1}'] and result["wire"] is None
    assert seen["traceparent"] is None
    assert not exporter.get_finished_spans()
    # and on again
    instrument()
    run(main())
    assert len(of(exporter.get_finished_spans(), SpanKind.SERVER)) == 1
