"""The ASGI middleware and the Starlette instrumentor: a real uvicorn server
on loopback running plain FastAPI WebSocket endpoints, driven by the
tracewire.ws client and by plain websockets clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, AsyncIterator, Awaitable, Dict, Iterator, List, Optional

import pytest
import uvicorn
import websockets.asyncio.client
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import tracewire as tw
from tracewire import ws as tws
from tracewire.asgi import TracewireMiddleware
from tracewire.instrumentation import StarletteInstrumentor

TIMEOUT = 15.0
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def uvicorn_server(app: Any) -> AsyncIterator[int]:
    """``app`` served by uvicorn on 127.0.0.1 (a free port, yielded)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task


async def wait_for_spans(exporter: InMemorySpanExporter, name: str, count: int = 1) -> None:
    for _ in range(500):
        if sum(1 for s in exporter.get_finished_spans() if s.name == name) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"span {name!r} not finished: {[s.name for s in exporter.get_finished_spans()]}")


def of(spans: List[ReadableSpan], kind: SpanKind, name: Optional[str] = None) -> List[ReadableSpan]:
    return [s for s in spans if s.kind == kind and (name is None or s.name == name)]


def plain_connect(uri: str, **kwargs: Any) -> Any:
    """A plain websockets client (never instrumented)."""
    return tws._explicit_call(websockets.asyncio.client.connect, uri, **kwargs)


def chat_app(seen: Dict[str, Any]) -> FastAPI:
    """A plain FastAPI application: an echo WebSocket endpoint that accepts
    ``mcp`` when offered, and an HTTP route."""
    app = FastAPI()

    @app.websocket("/chat")
    async def chat(websocket: WebSocket) -> None:
        seen["offered"] = list(websocket.scope["subprotocols"])
        await websocket.accept(subprotocol="mcp" if "mcp" in websocket.scope["subprotocols"] else None)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                seen.setdefault("received", []).append(message.get("text") or message.get("bytes"))
                if message.get("text") is not None:
                    await websocket.send_text(message["text"])
                else:
                    await websocket.send_bytes(message["bytes"])
        except WebSocketDisconnect:
            return

    @app.websocket("/closed")
    async def closed(websocket: WebSocket) -> None:
        await websocket.close(code=1008)

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


def test_middleware_with_the_tracewire_client(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    seen: Dict[str, Any] = {}
    app = chat_app(seen)
    app.add_middleware(TracewireMiddleware, tracer_provider=provider)

    async def main() -> List[tws.Message]:
        async with uvicorn_server(app) as port:
            uri = f"ws://127.0.0.1:{port}/chat"
            async with tws.connect(uri, tracer_provider=provider, subprotocols=["mcp"]) as conn:
                seen["negotiated"] = (conn.subprotocol, conn.ws.subprotocol, conn.envelopes)
                replies = []
                for message in (json.dumps({"text": "hi"}), b"\x01pcm", "not json"):
                    await conn.send(message)
                    replies.append(await conn.recv())
            await wait_for_spans(exporter, "accept /chat")
            return replies

    replies = run(main())
    assert seen["offered"] == ["mcp"], "the application sees its own protocols only"
    assert seen["negotiated"] == ("mcp", "tracewire.v1.json-binary+mcp", tw.Envelopes.ALL)
    assert seen["received"] == ['{"text": "hi"}', b"\x01pcm", "not json"], "the endpoint sees the payloads"
    assert [m.data for m in replies] == ['{"text": "hi"}', b"\x01pcm", "not json"]
    assert [m.remote_context is not None for m in replies] == [True, True, False]

    spans = exporter.get_finished_spans()
    (connect,) = of(spans, SpanKind.CLIENT, "connect /chat")
    (accept,) = of(spans, SpanKind.SERVER, "accept /chat")
    assert all(s.context.trace_id == connect.context.trace_id for s in spans), "one trace per connection"
    assert accept.parent is not None and accept.parent.span_id == connect.context.span_id
    assert accept.attributes is not None and connect.attributes is not None
    assert accept.attributes["websocket.session.id"] == connect.attributes["websocket.session.id"]
    assert accept.attributes["server.address"] == "127.0.0.1"
    sends, processes = of(spans, SpanKind.PRODUCER), of(spans, SpanKind.CONSUMER)
    assert len(sends) == 6 and len(processes) == 6
    by_id = {s.context.span_id: s for s in spans}
    # across the hop: each enveloped message's process span is its send span's child
    hops = [p for p in processes if p.parent is not None and by_id.get(p.parent.span_id) in sends]
    assert len(hops) == 4
    # the endpoint's replies are sent under the request's process span
    client_sends = [s for s in sends if s.parent is not None and s.parent.span_id == connect.context.span_id]
    assert len(client_sends) == 3
    client_send_ids = {s.context.span_id for s in client_sends}
    server_processes = [p for p in processes if p.parent is not None and p.parent.span_id in client_send_ids]
    assert len(server_processes) == 2, "JSON and binary were enveloped"
    for p in server_processes:
        assert len([s for s in sends if s.parent is not None and s.parent.span_id == p.context.span_id]) == 1
    for s in (connect, accept):
        assert s.attributes is not None and s.attributes["websocket.close.code"] == 1000
        assert s.status.status_code != StatusCode.ERROR


def test_middleware_with_a_plain_client(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    seen: Dict[str, Any] = {}
    app = chat_app(seen)
    app.add_middleware(TracewireMiddleware, tracer_provider=provider)
    looks_enveloped = ['{"tracewire":{"traceparent":"' + TP + '"},"x":1}', b"\xf5TW\x01\x00raw"]

    async def main() -> List[Any]:
        async with uvicorn_server(app) as port:
            async with plain_connect(f"ws://127.0.0.1:{port}/chat") as ws:
                assert ws.subprotocol is None
                got = []
                for frame in looks_enveloped:
                    await ws.send(frame)
                    got.append(await ws.recv())
            await wait_for_spans(exporter, "accept /chat")
            return got

    assert run(main()) == looks_enveloped, "nothing negotiated: frames untouched both ways"
    assert seen["received"] == looks_enveloped
    spans = exporter.get_finished_spans()
    (accept,) = of(spans, SpanKind.SERVER)
    assert accept.parent is None
    processes = of(spans, SpanKind.CONSUMER)
    assert len(processes) == 2 and all(p.parent is not None and p.parent.span_id == accept.context.span_id for p in processes)


def test_browser_query_context_and_message_model(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    seen: Dict[str, Any] = {}
    app = chat_app(seen)
    app.add_middleware(TracewireMiddleware, tracer_provider=provider, model="message")

    async def main() -> Any:
        async with uvicorn_server(app) as port:
            # what `new WebSocket(url + "?" + query, ["tracewire.v1.json"])` sends
            uri = f"ws://127.0.0.1:{port}/chat?traceparent={TP}&tracewire-session=browser-1"
            async with plain_connect(uri, subprotocols=["tracewire.v1.json"]) as ws:
                assert ws.subprotocol == "tracewire.v1.json"
                await ws.send('{"text":"hi"}')
                reply = await ws.recv()
            await wait_for_spans(exporter, "close /chat")
            return reply

    reply = json.loads(run(main()))
    assert seen["offered"] == [] and seen["received"] == ['{"text":"hi"}']
    spans = exporter.get_finished_spans()
    (accept,) = of(spans, SpanKind.SERVER)
    assert format(accept.context.trace_id, "032x") == TP[3:35]
    assert accept.attributes is not None and accept.attributes["websocket.session.id"] == "browser-1"
    assert accept.attributes["tracewire.model"] == "message"
    (send,) = of(spans, SpanKind.PRODUCER)
    assert tw.TraceParent.parse(reply["tracewire"]["traceparent"]).span_id == format(send.context.span_id, "016x")
    assert accept.context.span_id in {link.context.span_id for link in send.links}


def test_http_passes_through_and_refusal_is_an_error(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    app = chat_app({})
    app.add_middleware(TracewireMiddleware, tracer_provider=provider)

    async def main() -> str:
        async with uvicorn_server(app) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            response = (await reader.read()).decode()
            writer.close()
            with pytest.raises(Exception):
                async with plain_connect(f"ws://127.0.0.1:{port}/closed"):
                    pass
            await wait_for_spans(exporter, "accept /closed")
            return response

    response = run(main())
    assert response.startswith("HTTP/1.1 200") and response.endswith("ok")
    (accept,) = exporter.get_finished_spans()
    assert accept.name == "accept /closed" and accept.status.status_code == StatusCode.ERROR
    assert accept.status.description == "HTTP 403"


@pytest.fixture
def starlette_instrumentor(provider: TracerProvider) -> Iterator[StarletteInstrumentor]:
    instrumentor = StarletteInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield instrumentor
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def test_instrumentor_traces_a_plain_fastapi_app(
    starlette_instrumentor: StarletteInstrumentor, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: Dict[str, Any] = {}
    app = chat_app(seen)  # no middleware: the instrumentor adds it
    explicit = chat_app({})
    explicit.add_middleware(TracewireMiddleware, tracer_provider=provider)

    async def session(target: Any) -> Any:
        async with uvicorn_server(target) as port:
            async with tws.connect(f"ws://127.0.0.1:{port}/chat", tracer_provider=provider) as conn:
                await conn.send('{"a":1}')
                reply = await conn.recv()
            await wait_for_spans(exporter, "accept /chat")
            return reply

    reply = run(session(app))
    assert reply.data == '{"a":1}' and reply.remote_context is not None
    assert seen["received"] == ['{"a":1}']
    spans = exporter.get_finished_spans()
    assert len(of(spans, SpanKind.SERVER)) == 1 and len(of(spans, SpanKind.CONSUMER)) == 2

    # an application with the middleware too is traced once
    exporter.clear()
    run(session(explicit))
    spans = exporter.get_finished_spans()
    assert len(of(spans, SpanKind.SERVER)) == 1 and len(of(spans, SpanKind.CONSUMER)) == 2

    # uninstrumented: the same application is plain again
    starlette_instrumentor.uninstrument()
    exporter.clear()
    seen.clear()
    reply = run(session_plain(app))
    assert reply == '{"a":1}' and seen["received"] == ['{"a":1}']
    assert not of(exporter.get_finished_spans(), SpanKind.SERVER)


async def session_plain(app: Any) -> Any:
    async with uvicorn_server(app) as port:
        async with plain_connect(f"ws://127.0.0.1:{port}/chat", subprotocols=["tracewire.v1.json"]) as ws:
            assert ws.subprotocol is None, "no tracewire server any more"
            await ws.send('{"a":1}')
            return await ws.recv()
