"""The trust policy on loopback sockets: a server that does not trust its
client (docs/PROTOCOL.md section 12), checked through the SDK's in-memory
exporter."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, List

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import tracewire as tw
from tracewire import ws as tws

TIMEOUT = 10.0


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))  # type: ignore[arg-type]


def test_untrusted_client_is_linked_its_baggage_dropped_and_its_spans_capped(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    handled: List[List[str]] = []

    async def main() -> None:
        done = asyncio.Event()

        async def handler(conn: tws.TracedConnection) -> None:
            async def on_message(msg: tws.Message) -> None:
                handled.append(sorted(baggage.get_all()))

            await conn.handle(on_message)
            done.set()

        untrusted = tw.Trust("link", "drop", max_receive_spans=2)
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider, trust=untrusted) as server:
            port = server.sockets[0].getsockname()[1]
            token = otel_context.attach(baggage.set_baggage("user.id", "u-42"))
            try:
                async with tws.connect(f"ws://127.0.0.1:{port}/voice", tracer_provider=provider) as conn:
                    for i in range(5):
                        await conn.send(f'{{"n": {i}}}')
            finally:
                otel_context.detach(token)
            await asyncio.wait_for(done.wait(), TIMEOUT)
        for _ in range(200):
            if any(s.name == "accept /voice" for s in exporter.get_finished_spans()):
                return
            await asyncio.sleep(0.01)

    run(main())
    assert handled == [[]] * 5, "the client's baggage reached the handler"
    spans = exporter.get_finished_spans()
    (connect,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    (accept,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert accept.parent is None
    assert accept.context.trace_id != connect.context.trace_id
    assert [(link.context.trace_id, link.context.span_id) for link in accept.links] == [
        (connect.context.trace_id, connect.context.span_id)
    ]
    assert accept.attributes["websocket.session.id"] != connect.attributes["websocket.session.id"]
    sends = sorted((s for s in spans if s.kind == SpanKind.PRODUCER), key=lambda s: s.start_time or 0)
    processes = sorted((s for s in spans if s.kind == SpanKind.CONSUMER), key=lambda s: s.start_time or 0)
    assert (len(sends), len(processes)) == (5, 2)
    for process, send in zip(processes, sends):
        assert process.parent is not None and process.parent.span_id == accept.context.span_id
        assert [link.context.span_id for link in process.links] == [send.context.span_id]
    assert accept.attributes["tracewire.receive_spans.skipped"] == 3


def test_trusted_server_keeps_todays_behaviour(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> None:
        async def handler(conn: tws.TracedConnection) -> None:
            await conn.handle(lambda msg: asyncio.sleep(0))

        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider) as server:
            port = server.sockets[0].getsockname()[1]
            async with tws.connect(f"ws://127.0.0.1:{port}/voice", tracer_provider=provider) as conn:
                assert conn.session_id
                await conn.send("{}")
        for _ in range(200):
            if any(s.name == "accept /voice" for s in exporter.get_finished_spans()):
                return
            await asyncio.sleep(0.01)

    run(main())
    spans = exporter.get_finished_spans()
    (connect,) = [s for s in spans if s.kind == SpanKind.CLIENT]
    (accept,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert accept.parent is not None and accept.parent.span_id == connect.context.span_id
    assert not accept.links
    assert accept.attributes["websocket.session.id"] == connect.attributes["websocket.session.id"]
