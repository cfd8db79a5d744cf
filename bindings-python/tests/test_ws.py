"""Traced websockets client and server over loopback (127.0.0.1), in both
tracing models, with spans checked through the SDK's in-memory exporter;
and each side against a plain ``websockets`` peer."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Awaitable, Callable, Dict, List, Optional

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from websockets.asyncio.client import connect as plain_connect
from websockets.asyncio.server import serve as plain_serve
from websockets.exceptions import ConnectionClosedError

import tracewire as tw
from tracewire import ws as tws

TIMEOUT = 10.0


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))  # type: ignore[arg-type]


async def wait_for_spans(exporter: InMemorySpanExporter, name: str, count: int = 1) -> None:
    for _ in range(200):
        if sum(1 for s in exporter.get_finished_spans() if s.name == name) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"span {name!r} not finished: {[s.name for s in exporter.get_finished_spans()]}")


def by_kind(spans: List[ReadableSpan], kind: SpanKind, name: Optional[str] = None) -> List[ReadableSpan]:
    return [s for s in spans if s.kind == kind and (name is None or s.name == name)]


def echo_handler(received: List[tws.Message]) -> Callable[[tws.TracedConnection], Awaitable[None]]:
    async def handler(conn: tws.TracedConnection) -> None:
        async def on_message(msg: tws.Message) -> None:
            received.append(msg)
            await conn.send(msg.data)

        await conn.handle(on_message)

    return handler


def port_of(server: Any) -> int:
    return int(server.sockets[0].getsockname()[1])


@pytest.mark.parametrize("path", ["/chat", ""])
def test_connection_model(provider: TracerProvider, exporter: InMemorySpanExporter, path: str) -> None:
    received: List[tws.Message] = []

    async def main() -> List[tws.Message]:
        async with tws.serve(echo_handler(received), "127.0.0.1", 0, tracer_provider=provider) as server:
            uri = f"ws://127.0.0.1:{port_of(server)}{path}"
            replies = []
            async with tws.connect(uri, tracer_provider=provider) as conn:
                assert conn.envelopes == tw.Envelopes.ALL
                await conn.send(json.dumps({"text": "hi"}))
                replies.append(await conn.recv())
                await conn.send(b"\x01\x02audio")
                replies.append(await conn.recv())
                await conn.send("not json")
                replies.append(await conn.recv())
            await wait_for_spans(exporter, "accept /" if not path else f"accept {path}")
            return replies

    replies = run(main())
    p = path or "/"
    assert json.loads(replies[0].data)["text"] == "hi"
    assert replies[1].data == b"\x01\x02audio"
    assert replies[2].data == "not json" and replies[2].remote_context is None
    assert [m.data for m in received][1:] == [b"\x01\x02audio", "not json"]
    assert received[0].remote_context is not None and received[1].remote_context is not None

    spans = exporter.get_finished_spans()
    (connect,) = by_kind(spans, SpanKind.CLIENT, f"connect {p}")
    (accept,) = by_kind(spans, SpanKind.SERVER, f"accept {p}")
    trace_id = connect.context.trace_id
    assert all(s.context.trace_id == trace_id for s in spans), "one trace per connection"
    assert accept.parent is not None and accept.parent.span_id == connect.context.span_id
    sends = by_kind(spans, SpanKind.PRODUCER, f"send {p}")
    processes = by_kind(spans, SpanKind.CONSUMER, f"process {p}")
    assert len(sends) == 6 and len(processes) == 6
    client_sends = [s for s in sends if s.parent and s.parent.span_id == connect.context.span_id]
    assert len(client_sends) == 3
    # every enveloped process span is the child of the send span that sent it
    send_ids = {s.context.span_id for s in sends}
    enveloped = [s for s in processes if s.parent and s.parent.span_id in send_ids]
    assert len(enveloped) == 4  # JSON and binary, both directions
    plain = [s for s in processes if s not in enveloped]
    for s in plain:  # "not json": parent is the connection span
        assert s.parent is not None and s.parent.span_id in (connect.context.span_id, accept.context.span_id)
    for s in processes:
        assert s.attributes is not None
        assert s.attributes["messaging.operation.type"] == "process"
        assert s.attributes["websocket.session.id"] == connect.attributes["websocket.session.id"]  # type: ignore[index]
    assert {s.attributes["websocket.message.type"] for s in sends} == {"text", "binary"}  # type: ignore[index]
    for s in (connect, accept):
        assert s.attributes["websocket.close.code"] == 1000  # type: ignore[index]
        assert s.attributes["tracewire.model"] == "connection"  # type: ignore[index]
        assert s.status.status_code != StatusCode.ERROR
    assert connect.attributes["server.address"] == "127.0.0.1"  # type: ignore[index]
    # server spans end after the client's close; client spans live in connect
    assert connect.end_time is not None and accept.end_time is not None


@pytest.mark.parametrize("strip", [None, False])
def test_default_server_and_client_strip_envelope_members(
    provider: TracerProvider, exporter: InMemorySpanExporter, strip: Optional[bool]
) -> None:
    received: List[tws.Message] = []
    # None: the defaults, which strip; False: the envelope members are kept.
    options: Dict[str, Any] = {} if strip is None else {"strip": strip}

    async def main() -> tws.Message:
        async with tws.serve(echo_handler(received), "127.0.0.1", 0, tracer_provider=provider, **options) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/s", tracer_provider=provider, **options) as conn:
                await conn.send('{"text":"hi"}')
                reply: tws.Message = await conn.recv()
                return reply

    reply = run(main())
    assert reply.remote_context is not None and received[0].remote_context is not None
    if strip is None:
        assert received[0].data == '{"text":"hi"}', "the server sees what the client wrote"
        assert reply.data == '{"text":"hi"}', "the client sees what the server wrote"
    else:
        assert "traceparent" in json.loads(received[0].data)["tracewire"]
        assert "traceparent" in json.loads(reply.data)["tracewire"]


def test_stale_envelope_and_application_baggage_member(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []
    stale = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    # A forwarded frame: someone else's envelope, and the application's own
    # member named baggage.
    frame = json.dumps(
        {"baggage": "app-owned", "tracewire": {"traceparent": stale, "tracestate": "stale=1", "baggage": "old=1"}, "type": "chat"},
        separators=(",", ":"),
    )

    async def main() -> tws.Message:
        async with tws.serve(echo_handler(received), "127.0.0.1", 0, tracer_provider=provider) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/s", tracer_provider=provider) as conn:
                await conn.send(frame)
                reply: tws.Message = await conn.recv()
                return reply

    reply = run(main())
    untouched = '{"baggage":"app-owned","type":"chat"}'
    assert received[0].data == untouched and reply.data == untouched
    remote = received[0].remote_context
    assert remote is not None and remote.trace_id != stale[3:35], "the sender's context, never the stale one"
    client_send = min(by_kind(exporter.get_finished_spans(), SpanKind.PRODUCER, "send /s"), key=lambda s: s.start_time or 0)
    assert remote.span_id == format(client_send.context.span_id, "016x")
    assert not remote.baggage and not remote.tracestate, "neither the stale values nor the application's member"


def test_mcp_mode_reads_and_writes_meta_without_negotiation(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    # A third-party MCP server: no tracewire handshake, _meta read as it comes.
    seen: List[Dict[str, Any]] = []
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    async def mcp_server(ws: Any) -> None:
        async for raw in ws:
            request = json.loads(raw)
            seen.append(request)
            result = {"_meta": {"traceparent": tp, "progressToken": 1}, "content": []}
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}))

    async def main() -> tws.Message:
        async with plain_serve(mcp_server, "127.0.0.1", 0) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/mcp", mcp=True, tracer_provider=provider) as conn:
                await conn.send('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}')
                reply: tws.Message = await conn.recv()
                return reply

    reply = run(main())
    meta = seen[0]["params"]["_meta"]
    assert set(meta) == {"traceparent"} and seen[0]["params"]["name"] == "search"
    assert json.loads(reply.data) == {"jsonrpc": "2.0", "id": 1, "result": {"_meta": {"progressToken": 1}, "content": []}}
    assert reply.remote_context is not None and reply.remote_context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_message_model(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    tracer = provider.get_tracer("app")
    received: List[tws.Message] = []

    async def main() -> Dict[str, int]:
        async with tws.serve(echo_handler(received), "127.0.0.1", 0, model="message", tracer_provider=provider) as server:
            uri = f"ws://127.0.0.1:{port_of(server)}/voice"
            ids = {}
            conn = await tws.connect(uri, model="message", tracer_provider=provider)
            for i in range(2):
                with tracer.start_as_current_span(f"request {i}") as req:
                    ids[f"request {i}"] = req.get_span_context().trace_id
                    await conn.send(json.dumps({"n": i}))
                    await conn.recv()
            await conn.close(1001, "bye")
            await wait_for_spans(exporter, "close /voice", 2)
            return ids

    ids = run(main())
    spans = exporter.get_finished_spans()
    (connect,) = by_kind(spans, SpanKind.CLIENT, "connect /voice")
    (accept,) = by_kind(spans, SpanKind.SERVER, "accept /voice")
    assert accept.parent is not None and accept.parent.span_id == connect.context.span_id
    # the connection spans end at the upgrade, before any message
    sends = by_kind(spans, SpanKind.PRODUCER)
    assert connect.end_time is not None and all(connect.end_time <= s.start_time for s in sends)  # type: ignore[operator]
    for i in range(2):
        in_request = [s for s in spans if s.context.trace_id == ids[f"request {i}"]]
        names = sorted(s.name for s in in_request)
        assert names == ["process /voice", "process /voice", f"request {i}", "send /voice", "send /voice"]
        for s in in_request:
            if s.kind in (SpanKind.PRODUCER, SpanKind.CONSUMER):
                assert s.attributes["tracewire.model"] == "message"  # type: ignore[index]
                linked = {link.context.span_id for link in s.links}
                assert linked & {connect.context.span_id, accept.context.span_id}, s.name
    closes = [s for s in spans if s.name == "close /voice"]
    assert len(closes) == 2
    for c in closes:
        assert c.kind == SpanKind.INTERNAL
        assert c.attributes["websocket.close.code"] == 1001  # type: ignore[index]
        assert c.status.status_code != StatusCode.ERROR
    assert any(c.attributes.get("websocket.close.reason") == "bye" for c in closes)  # type: ignore[union-attr]
    assert len(received) == 2


def test_plain_client_against_traced_server(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []

    async def main() -> List[Any]:
        async with tws.serve(echo_handler(received), "127.0.0.1", 0, tracer_provider=provider) as server:
            async with plain_connect(f"ws://127.0.0.1:{port_of(server)}/plain") as ws:
                assert ws.response is not None and "Sec-WebSocket-Protocol" not in ws.response.headers
                frame = '{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"x":1}'
                await ws.send(frame)
                back1 = await ws.recv()
                await ws.send(b"\xf5TW\x01\x00raw")  # looks enveloped: untouched, not negotiated
                back2 = await ws.recv()
            await wait_for_spans(exporter, "accept /plain")
            return [frame, back1, back2]

    frame, back1, back2 = run(main())
    assert back1 == frame, "no envelope was negotiated: frames pass untouched"
    assert back2 == b"\xf5TW\x01\x00raw"
    assert [m.data for m in received] == [frame, b"\xf5TW\x01\x00raw"]
    assert all(m.remote_context is None for m in received)
    spans = exporter.get_finished_spans()
    (accept,) = by_kind(spans, SpanKind.SERVER)
    assert accept.parent is None, "no context in the handshake: a new trace"
    for s in by_kind(spans, SpanKind.CONSUMER):
        assert s.parent is not None and s.parent.span_id == accept.context.span_id


def test_traced_client_against_plain_server(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    seen: Dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        seen["headers"] = dict(ws.request.headers.raw_items())
        seen["offer"] = ws.request.headers.get("Sec-WebSocket-Protocol")
        async for frame in ws:
            seen.setdefault("frames", []).append(frame)
            await ws.send(frame)

    async def main() -> List[tws.Message]:
        async with plain_serve(handler, "127.0.0.1", 0) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/p", tracer_provider=provider) as conn:
                assert conn.envelopes == tw.Envelopes.NONE
                await conn.send('{"a":1}')
                await conn.send(b"bin")
                return [await conn.recv(), await conn.recv()]

    replies = run(main())
    assert seen["frames"] == ['{"a":1}', b"bin"], "a plain server gets plain frames"
    assert [m.data for m in replies] == ['{"a":1}', b"bin"]
    (connect,) = by_kind(exporter.get_finished_spans(), SpanKind.CLIENT)
    tp = tw.TraceParent.parse(seen["headers"]["traceparent"])
    assert int(tp.span_id, 16) == connect.context.span_id
    assert seen["offer"] == "tracewire.v1.json-binary, tracewire.v1.json, tracewire.v1.binary"
    assert seen["headers"]["tracewire-session"] == connect.attributes["websocket.session.id"]  # type: ignore[index]


def test_browser_style_query_context_and_bad_envelope(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    async def main() -> Any:
        async with tws.serve(echo_handler(received), "127.0.0.1", 0, tracer_provider=provider) as server:
            # What `new WebSocket(uri, ["tracewire.v1.json"])` sends; it reads ws.protocol.
            uri = f"ws://127.0.0.1:{port_of(server)}/b?traceparent={tp}&tracewire-session=browser-1"
            async with plain_connect(uri, subprotocols=["tracewire.v1.json"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "tracewire.v1.json"
                bad = '{"tracewire":{"traceparent":"00-bad"},"x":1}'
                await ws.send(bad)
                await ws.recv()
                await ws.send(b"\xf5TW\x01\x00not negotiated")
                await ws.recv()
            await wait_for_spans(exporter, "accept /b")
            return bad

    bad = run(main())
    assert received[0].data == bad and isinstance(received[0].error, tw.InvalidTraceParentError)
    assert received[1].data == b"\xf5TW\x01\x00not negotiated" and received[1].error is None
    (accept,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert format(accept.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert accept.attributes["websocket.session.id"] == "browser-1"  # type: ignore[index]
    # The malformed envelope leaves the core's exception event on its process
    # span (status untouched: the message was still processed); the other
    # message, not enveloped, leaves nothing.
    bad_span, plain_span = sorted(by_kind(exporter.get_finished_spans(), SpanKind.CONSUMER), key=lambda s: s.start_time or 0)
    (event,) = bad_span.events
    assert event.name == "exception"
    assert dict(event.attributes or {}) == {
        "exception.type": "invalid_traceparent",
        "exception.message": str(received[0].error),
    }
    assert bad_span.status.status_code == StatusCode.UNSET
    assert not plain_span.events


def test_app_subprotocol_kept_between_traced_peers(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []
    seen: Dict[str, Any] = {}

    async def handler(conn: tws.TracedConnection) -> None:
        seen["server"] = (conn.subprotocol, conn.envelopes, conn.ws.subprotocol)
        await echo_handler(received)(conn)

    async def main() -> Any:
        only_json = tw.Envelopes(json=True)
        async with tws.serve(
            handler, "127.0.0.1", 0, tracer_provider=provider, envelopes=only_json, subprotocols=["mcp"]
        ) as server:
            uri = f"ws://127.0.0.1:{port_of(server)}/mcp"
            async with tws.connect(uri, tracer_provider=provider, subprotocols=["graphql-ws", "mcp"]) as conn:
                seen["client"] = (conn.subprotocol, conn.envelopes, conn.ws.subprotocol)
                await conn.send('{"a":1}')
                return (await conn.recv()).data

    assert run(main()) == '{"a":1}'
    assert seen["client"] == ("mcp", tw.Envelopes(json=True), "tracewire.v1.json+mcp")
    assert seen["server"] == ("mcp", tw.Envelopes(json=True), "tracewire.v1.json+mcp")
    assert received[0].remote_context is not None, "the JSON envelope carried the context"


def test_traced_client_with_plain_app_server(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    seen: Dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        seen["selected"] = ws.subprotocol
        async for frame in ws:
            seen.setdefault("frames", []).append(frame)
            await ws.send(frame)

    async def main() -> Any:
        async with plain_serve(handler, "127.0.0.1", 0, subprotocols=["mcp"]) as server:  # type: ignore[list-item]
            uri = f"ws://127.0.0.1:{port_of(server)}/p"
            async with tws.connect(uri, tracer_provider=provider, subprotocols=["mcp"]) as conn:
                assert conn.envelopes == tw.Envelopes.NONE and conn.subprotocol == "mcp"
                await conn.send('{"a":1}')
                await conn.send(b"\x00bin")
                return [(await conn.recv()).data, (await conn.recv()).data]

    assert run(main()) == ['{"a":1}', b"\x00bin"]
    assert seen["selected"] == "mcp"
    assert seen["frames"] == ['{"a":1}', b"\x00bin"], "the plain mcp server gets the exact bytes"


def test_plain_app_client_with_traced_server(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []
    seen: Dict[str, Any] = {}

    async def handler(conn: tws.TracedConnection) -> None:
        seen["server"] = (conn.subprotocol, conn.envelopes)
        await echo_handler(received)(conn)

    async def main() -> Any:
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider, subprotocols=["mcp"]) as server:
            uri = f"ws://127.0.0.1:{port_of(server)}/p"
            async with plain_connect(uri, subprotocols=["mcp"]) as ws:  # type: ignore[list-item]
                assert ws.subprotocol == "mcp"
                await ws.send(b"\xf5TW\x01\x00raw")
                return await ws.recv()

    assert run(main()) == b"\xf5TW\x01\x00raw", "nothing enveloped toward a client that did not select tracewire"
    assert seen["server"] == ("mcp", tw.Envelopes.NONE)
    assert received[0].data == b"\xf5TW\x01\x00raw"


def test_abnormal_close_is_an_error(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    async def handler(conn: tws.TracedConnection) -> None:
        await conn.close(4000, "app error")

    async def main() -> None:
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/", tracer_provider=provider) as conn:
                with pytest.raises(Exception):
                    await conn.recv()
            await wait_for_spans(exporter, "accept /")

    run(main())
    spans = exporter.get_finished_spans()
    (accept,) = by_kind(spans, SpanKind.SERVER)
    assert accept.status.status_code == StatusCode.ERROR
    (connect,) = by_kind(spans, SpanKind.CLIENT)
    assert connect.attributes["websocket.close.code"] == 4000  # type: ignore[index]
    assert connect.status.status_code == StatusCode.ERROR


def test_connect_failure_ends_the_span_with_an_error(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    async def main() -> None:
        async with plain_serve(lambda ws: ws.close(), "127.0.0.1", 0) as server:
            port = port_of(server)
        with pytest.raises(OSError):
            await tws.connect(f"ws://127.0.0.1:{port}/gone", tracer_provider=provider, open_timeout=2)

    run(main())
    (connect,) = exporter.get_finished_spans()
    assert connect.status.status_code == StatusCode.ERROR


def test_failing_handler_closes_with_1011(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    async def handler(conn: tws.TracedConnection) -> None:
        await conn.recv()
        raise ValueError("handler bug")

    async def main() -> None:
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/f", tracer_provider=provider) as conn:
                await conn.send("x")
                with pytest.raises(Exception):
                    await conn.recv()
            await wait_for_spans(exporter, "accept /f")

    run(main())
    (accept,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert accept.status.status_code == StatusCode.ERROR
    assert accept.attributes["websocket.close.code"] == 1011  # type: ignore[index]
    assert any(e.name == "exception" for e in accept.events)


# WebSocket limits (docs/PROTOCOL.md 11.1): the core decides them, connect and
# serve pass them to websockets unless the caller gives its own.

MIB = 1 << 20


def test_ws_limits_are_the_core_defaults() -> None:
    limits = tw.ws_limits()
    assert isinstance(limits, tw.WsLimits)
    assert limits.max_message_size == MIB
    assert limits.max_frame_size == MIB
    assert limits.write_buffer_size == 128 * 1024
    assert limits.max_write_buffer_size == 4 * MIB
    assert limits.handshake_timeout == 10.0
    assert "max_message_size=1048576" in repr(limits)
    assert tws.limit_defaults() == {"max_size": MIB, "open_timeout": 10.0, "write_limit": 4 * MIB}


def length_handler(received: List[tws.Message]) -> Callable[[tws.TracedConnection], Awaitable[None]]:
    """Answers each message with its length (an echo of a large message would
    meet the client's own limit)."""

    async def handler(conn: tws.TracedConnection) -> None:
        async def on_message(msg: tws.Message) -> None:
            received.append(msg)
            await conn.send(str(len(msg.data)))

        try:
            await conn.handle(on_message)
        except ConnectionClosedError:
            pass

    return handler


def test_message_over_the_limit_is_refused_with_1009(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []

    async def main() -> ConnectionClosedError:
        async with tws.serve(length_handler(received), "127.0.0.1", 0, tracer_provider=provider) as server:
            uri = f"ws://127.0.0.1:{port_of(server)}/big"
            async with tws.connect(uri, tracer_provider=provider) as conn:
                await conn.send(b"\x00" * (MIB // 2))
                assert (await conn.recv()).data == str(MIB // 2)
                await conn.send(b"\x00" * (MIB + 1))
                with pytest.raises(ConnectionClosedError) as info:
                    await conn.recv()
            await wait_for_spans(exporter, "accept /big")
            return info.value

    closed = run(main())
    assert closed.rcvd is not None and closed.rcvd.code == 1009
    assert [len(m.data) for m in received] == [MIB // 2]
    (accept,) = by_kind(exporter.get_finished_spans(), SpanKind.SERVER)
    assert accept.attributes["websocket.close.code"] == 1009  # type: ignore[index]


def test_caller_max_size_wins(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []

    async def main() -> str:
        handler = length_handler(received)
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider, max_size=4 * MIB) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/", tracer_provider=provider) as conn:
                await conn.send(b"\x00" * (2 * MIB))
                reply = await conn.recv()
                assert isinstance(reply.data, str)
                return reply.data

    assert run(main()) == str(2 * MIB)
    assert [len(m.data) for m in received] == [2 * MIB]


def test_traced_client_refuses_a_message_over_the_limit(provider: TracerProvider) -> None:
    async def send_big(ws: Any) -> None:
        await ws.send(b"\x00" * (2 * MIB))
        await ws.wait_closed()

    async def main() -> ConnectionClosedError:
        async with plain_serve(send_big, "127.0.0.1", 0, max_size=None) as server:
            async with tws.connect(f"ws://127.0.0.1:{port_of(server)}/", tracer_provider=provider) as conn:
                with pytest.raises(ConnectionClosedError) as info:
                    await conn.recv()
                return info.value

    closed = run(main())
    assert closed.sent is not None and closed.sent.code == 1009


def test_limits_reach_websockets_on_both_sides(provider: TracerProvider) -> None:
    seen: Dict[str, Any] = {}

    async def handler(conn: tws.TracedConnection) -> None:
        seen["server"] = (conn.ws.protocol.max_message_size, conn.ws.transport.get_write_buffer_limits()[1])
        await conn.recv()

    async def main() -> Any:
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider) as server:
            uri = f"ws://127.0.0.1:{port_of(server)}/"
            async with tws.connect(uri, tracer_provider=provider, write_limit=64 * 1024) as conn:
                client = (conn.ws.protocol.max_message_size, conn.ws.transport.get_write_buffer_limits()[1])
                await conn.send("bye")
            return client

    client = run(main())
    assert seen["server"] == (MIB, 4 * MIB)
    assert client == (MIB, 64 * 1024)


def test_server_handshake_timeout_closes_a_silent_peer(provider: TracerProvider) -> None:
    async def handler(conn: tws.TracedConnection) -> None:
        raise AssertionError("no handshake, no handler")

    async def main() -> bytes:
        async with tws.serve(handler, "127.0.0.1", 0, tracer_provider=provider, open_timeout=0.2) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            try:
                # The default would wait 10 s; the caller's 0.2 s closes it.
                return await asyncio.wait_for(reader.read(), 5)
            finally:
                writer.close()

    assert run(main()) == b""
