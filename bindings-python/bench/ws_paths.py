"""Per-message cost of each traced WebSocket path, on a loopback echo.

One process, one event loop: a server on 127.0.0.1 and a client that sends a
small JSON message and waits for its echo, N times (default 2,000, after a
warm-up). Every span is recorded by the OpenTelemetry SDK (always sampled,
a span processor that drops them, so span creation and ending count but no
export). Paths:

- ``websockets`` plain (no tracing): the baseline of the websockets paths;
- ``tracewire.ws``: ``tracewire.ws.serve`` + ``tracewire.ws.connect``;
- instrumentor: ``WebsocketsInstrumentor`` around plain websockets code;
- uvicorn + FastAPI plain (plain websockets client): the ASGI baseline;
- uvicorn + FastAPI + ``TracewireMiddleware``, ``tracewire.ws.connect`` client.

A traced round trip is two traced messages: the client's send and process
spans and the server's, envelopes both ways. The overhead of a path is its
round trip minus its server's plain baseline, halved (per message). Rounds
alternate between the paths; each path's best round counts.

Run: ``make -C bindings-python bench-ws`` (``python bench/ws_paths.py [N]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Sequence

import uvicorn
import websockets.asyncio.client
import websockets.asyncio.server
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from tracewire import ws as tws
from tracewire.asgi import TracewireMiddleware
from tracewire.instrumentation import WebsocketsInstrumentor

ROUNDS = 5
WARMUP = 200


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(Drop()))
MESSAGE = json.dumps({"type": "transcript", "text": "hello there", "seq": 1})


async def echo_loop(send: Callable[[str], Awaitable[Any]], recv: Callable[[], Awaitable[Any]], n: int) -> float:
    for _ in range(WARMUP):
        await send(MESSAGE)
        await recv()
    start = time.perf_counter()
    for _ in range(n):
        await send(MESSAGE)
        await recv()
    return (time.perf_counter() - start) / n * 1e6


def plain(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return tws._explicit_call(fn, *args, **kwargs)


async def plain_echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


async def run_plain_websockets(n: int) -> float:
    async with plain(websockets.asyncio.server.serve, plain_echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with plain(websockets.asyncio.client.connect, f"ws://127.0.0.1:{port}/echo") as ws:
            return await echo_loop(ws.send, ws.recv, n)


async def run_tracewire_ws(n: int) -> float:
    async def handler(conn: tws.TracedConnection) -> None:
        async def on_message(msg: tws.Message) -> None:
            await conn.send(msg.data)

        await conn.handle(on_message)

    async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=PROVIDER) as server:
        port = server.sockets[0].getsockname()[1]
        async with tws.connect(f"ws://127.0.0.1:{port}/echo", tracer_provider=PROVIDER) as conn:
            return await echo_loop(conn.send, conn.recv, n)


async def run_instrumentor(n: int) -> float:
    instrumentor = WebsocketsInstrumentor()
    instrumentor.instrument(tracer_provider=PROVIDER)
    try:
        async with websockets.asyncio.server.serve(plain_echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/echo") as ws:
                return await echo_loop(ws.send, ws.recv, n)
    finally:
        instrumentor.uninstrument()


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    return app


@contextlib.asynccontextmanager
async def uvicorn_server(app: Any) -> AsyncIterator[int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await task


async def run_uvicorn_plain(n: int) -> float:
    async with uvicorn_server(fastapi_app()) as port:
        async with plain(websockets.asyncio.client.connect, f"ws://127.0.0.1:{port}/echo") as ws:
            return await echo_loop(ws.send, ws.recv, n)


async def run_uvicorn_middleware(n: int) -> float:
    app = fastapi_app()
    app.add_middleware(TracewireMiddleware, tracer_provider=PROVIDER)
    async with uvicorn_server(app) as port:
        async with tws.connect(f"ws://127.0.0.1:{port}/echo", tracer_provider=PROVIDER) as conn:
            return await echo_loop(conn.send, conn.recv, n)


PATHS: Dict[str, Callable[[int], Awaitable[float]]] = {
    "websockets, plain": run_plain_websockets,
    "tracewire.ws (explicit)": run_tracewire_ws,
    "WebsocketsInstrumentor": run_instrumentor,
    "uvicorn + FastAPI, plain": run_uvicorn_plain,
    "uvicorn + FastAPI + TracewireMiddleware": run_uvicorn_middleware,
}
BASELINE = {
    "tracewire.ws (explicit)": "websockets, plain",
    "WebsocketsInstrumentor": "websockets, plain",
    "uvicorn + FastAPI + TracewireMiddleware": "uvicorn + FastAPI, plain",
}


async def main(n: int) -> None:
    best: Dict[str, float] = {name: float("inf") for name in PATHS}
    for _ in range(ROUNDS):
        for name, path in PATHS.items():
            best[name] = min(best[name], await path(n))
    print(f"loopback echo, {n} round trips per path, best of {ROUNDS} rounds (microseconds)")
    print(f"{'path':42} {'round trip':>10} {'overhead/message':>17}")
    for name, rtt in best.items():
        base = BASELINE.get(name)
        overhead = "" if base is None else f"{(rtt - best[base]) / 2:17.1f}"
        print(f"{name:42} {rtt:10.1f} {overhead}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
