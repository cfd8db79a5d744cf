"""Cross-language: the Python traced client against the Rust core's traced
echo server (``core/examples/echo_server.rs``), in both models.

The server binary is the one ``cargo test`` (the root ``make test-rust``)
builds; set ``TRACEWIRE_ECHO_SERVER`` to point elsewhere. Without it the
test is skipped.
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


def _echo_server() -> Optional[Path]:
    if os.environ.get("TRACEWIRE_ECHO_SERVER"):
        return Path(os.environ["TRACEWIRE_ECHO_SERVER"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "examples" / "echo_server"
        if p.exists():
            return p
    return None


SERVER = _echo_server()
pytestmark = pytest.mark.skipif(SERVER is None, reason="the Rust echo_server example is not built")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["connection", "message"])
def rust_server(request: pytest.FixtureRequest) -> Iterator[tuple]:  # type: ignore[type-arg]
    port = _free_port()
    env = dict(os.environ)
    env.update(
        MODEL=request.param,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1",  # nothing listens: export fails fast
        OTEL_EXPORTER_OTLP_TIMEOUT="100",
        RUST_BACKTRACE="0",
    )
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
