"""Cross-language: the Python traced client against the Rust core's traced
echo server (``core/examples/echo_server.rs``) and the Rust echo client
(``core/examples/echo_client.rs``) against the Python traced server, in both
models.

The binaries are the ones ``cargo test`` (the root ``make test-rust``)
builds; ``TRACEWIRE_ECHO_SERVER`` / ``TRACEWIRE_ECHO_CLIENT`` point
elsewhere. Without them the tests are skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tracewire import ws as tws

ROOT = Path(__file__).resolve().parents[2]


def _example(name: str) -> Optional[Path]:
    override = os.environ.get(f"TRACEWIRE_{name.upper()}")
    if override:
        return Path(override)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "examples" / name
        if p.exists():
            return p
    return None


SERVER = _example("echo_server")
CLIENT = _example("echo_client")
RUST_ENV = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",  # nothing listens: export fails fast
    "OTEL_EXPORTER_OTLP_TIMEOUT": "100",
    "RUST_BACKTRACE": "0",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["connection", "message"])
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["connection", "message"])
def rust_server(request: pytest.FixtureRequest) -> Iterator[tuple]:  # type: ignore[type-arg]
    port = _free_port()
    env = dict(os.environ)
    env.update(RUST_ENV, MODEL=request.param)
    proc = subprocess.Popen(
        [str(SERVER), f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "echo server on" in line, line
        yield port, request.param, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.skipif(SERVER is None, reason="the Rust echo_server example is not built")
def test_python_client_against_rust_server(
    rust_server: tuple, provider: TracerProvider, exporter: InMemorySpanExporter  # type: ignore[type-arg]
) -> None:
    port, model, proc = rust_server

    async def main() -> List[tws.Message]:
        async with tws.connect(f"ws://127.0.0.1:{port}/echo", model=model, tracer_provider=provider) as conn:
            assert conn.envelopes.json and conn.envelopes.binary, "the Rust server accepts both envelopes"
            await conn.send(json.dumps({"text": "hi"}))
            first = await conn.recv()
            await conn.send(b"\x00audio")
            second = await conn.recv()
            return [first, second]

    start = time.monotonic()
    replies = asyncio.run(asyncio.wait_for(main(), 20))
    assert time.monotonic() - start < 20
    assert json.loads(replies[0].data)["text"] == "hi"
    assert replies[1].data == b"\x00audio"
    spans = exporter.get_finished_spans()
    ours = {s.context.span_id for s in spans}
    sends = [s for s in spans if s.kind == SpanKind.PRODUCER]
    for reply, send in zip(replies, sends):
        rc = reply.remote_context
        assert rc is not None, "the Rust server's reply carries its context"
        # the Rust side's send span: in our send's trace, but not one of ours
        assert rc.trace_id == format(send.context.trace_id, "032x")
        assert rc.span_id is not None and int(rc.span_id, 16) not in ours
    # the Rust server logged each message in our trace
    proc.kill()
    out = proc.stdout.read() if proc.stdout else ""
    for send in sends:
        assert format(send.context.trace_id, "032x") in out


@pytest.mark.skipif(CLIENT is None, reason="the Rust echo_client example is not built")
def test_rust_client_against_python_server(model: str, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    received: List[tws.Message] = []

    async def handler(conn: tws.TracedConnection) -> None:
        async def on_message(msg: tws.Message) -> None:
            received.append(msg)
            await conn.send(msg.data)

        await conn.handle(on_message)

    async def main() -> str:
        async with tws.serve(handler, "127.0.0.1", 0, model=model, tracer_provider=provider) as server:
            port = server.sockets[0].getsockname()[1]
            env = dict(os.environ)
            env.update(RUST_ENV, MODEL=model)
            proc = await asyncio.create_subprocess_exec(
                str(CLIENT), f"ws://127.0.0.1:{port}/echo", stdout=asyncio.subprocess.PIPE, env=env
            )
            out, _ = await proc.communicate()
            assert proc.returncode == 0
            for _ in range(200):  # the server records the close after the client left
                if any(s.name == ("accept /echo" if model == "connection" else "close /echo") for s in exporter.get_finished_spans()):
                    break
                await asyncio.sleep(0.01)
            return out.decode()

    out = asyncio.run(asyncio.wait_for(main(), 30))
    trace_id = out.strip().splitlines()[-1].split()[-1]
    assert out.startswith("connected, envelopes Envelopes { json: true, binary: true }")
    assert received[0].data == '{"text":"hello"}'  # envelope members stripped (the default)
    assert received[1].data == b"\x01\x02\x03 audio"  # binary envelope removed
    for m in received:
        assert m.remote_context is not None and m.remote_context.trace_id == trace_id
    spans = exporter.get_finished_spans()
    processes = [s for s in spans if s.kind == SpanKind.CONSUMER]
    sends = [s for s in spans if s.kind == SpanKind.PRODUCER]
    assert len(processes) == 2 and len(sends) == 2
    for s in processes + sends:
        assert format(s.context.trace_id, "032x") == trace_id, s.name
    # the echoes the Rust client received were in the same trace
    assert out.count(f"in trace {trace_id}") == 2
    accept = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(accept) == 1 and format(accept[0].context.trace_id, "032x") == trace_id
