"""End to end: ``opentelemetry-instrument`` (the entry points of the installed
wheel) on applications that contain no tracewire code, spans exported with
``OTEL_TRACES_EXPORTER=console`` and read back from the process's stdout."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tracewire import ws as tws

BIN = Path(sys.executable).parent
TIMEOUT = 60


def otel_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(
        OTEL_TRACES_EXPORTER="console",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="tracewire-e2e",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def console_spans(stdout: str) -> List[Dict[str, Any]]:
    """The span objects ``ConsoleSpanExporter`` printed (one JSON object each)."""
    decoder = json.JSONDecoder()
    spans, i = [], 0
    while True:
        start = stdout.find("{", i)
        if start < 0:
            return spans
        obj, i = decoder.raw_decode(stdout, start)
        if isinstance(obj, dict) and "context" in obj and "kind" in obj:
            spans.append(obj)


APP = textwrap.dedent(
    """
    # A plain websockets application: no tracewire, no OpenTelemetry.
    import asyncio, json, sys
    import websockets

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async def main():
        async with websockets.serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with websockets.connect(f"ws://127.0.0.1:{port}/e2e") as ws:
                await ws.send(json.dumps({"text": "hi"}))
                text = await ws.recv()
                await ws.send(b"pcm")
                binary = await ws.recv()
        print(json.dumps({"text": text, "binary": binary.hex()}), file=sys.stderr)

    asyncio.run(main())
    """
)


def test_opentelemetry_instrument_traces_an_unmodified_websockets_app(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "app.py"],
        cwd=tmp_path,
        env=otel_env(OTEL_PYTHON_TRACEWIRE_MODEL="message"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    app_said = json.loads(result.stderr.strip().splitlines()[-1])
    assert app_said == {"text": '{"text": "hi"}', "binary": b"pcm".hex()}, "the application sees its own payloads"

    spans = console_spans(result.stdout)
    names = sorted(s["name"] for s in spans)
    assert names == ["accept /e2e", "close /e2e", "close /e2e", "connect /e2e"] + ["process /e2e"] * 4 + ["send /e2e"] * 4
    by_id = {s["context"]["span_id"]: s for s in spans}
    (connect,) = [s for s in spans if s["kind"] == "SpanKind.CLIENT"]
    (accept,) = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    assert accept["parent_id"] == connect["context"]["span_id"], "the handshake carried the context"
    assert connect["attributes"]["tracewire.model"] == "message"
    # message model: every message's process span is the child of its send span,
    # across the hop, in both directions, each linked to its connection span
    processes = [s for s in spans if s["kind"] == "SpanKind.CONSUMER"]
    for process in processes:
        parent = by_id[process["parent_id"]]
        assert parent["kind"] == "SpanKind.PRODUCER" and parent["context"]["trace_id"] == process["context"]["trace_id"]
        linked = {link["context"]["span_id"] for link in process["links"]}
        assert linked & {connect["context"]["span_id"], accept["context"]["span_id"]}


FASTAPI_APP = textwrap.dedent(
    """
    # A plain FastAPI application: no tracewire, no OpenTelemetry.
    from fastapi import FastAPI, WebSocket, WebSocketDisconnect

    app = FastAPI()

    @app.websocket("/chat")
    async def chat(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(text.upper())
        except WebSocketDisconnect:
            pass
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not start")


def test_opentelemetry_instrument_uvicorn_traces_a_plain_fastapi_endpoint(
    tmp_path: Path, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    (tmp_path / "app.py").write_text(FASTAPI_APP)
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "opentelemetry-instrument"), str(BIN / "uvicorn"), "app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--lifespan", "off"],
        cwd=tmp_path,
        env=otel_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_listening(port, proc)

        async def client() -> List[tws.Message]:
            async with tws.connect(f"ws://127.0.0.1:{port}/chat", tracer_provider=provider) as conn:
                await conn.send('{"text":"hi"}')
                first = await conn.recv()
                await conn.send("plain")
                return [first, await conn.recv()]

        replies = asyncio.run(asyncio.wait_for(client(), TIMEOUT))
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    assert [m.data for m in replies] == ['{"TEXT":"HI"}', "PLAIN"]
    assert replies[0].remote_context is not None and replies[1].remote_context is None

    ours = exporter.get_finished_spans()
    (connect,) = [s for s in ours if s.kind == SpanKind.CLIENT]
    client_sends = {format(s.context.span_id, "#018x") for s in ours if s.kind == SpanKind.PRODUCER}
    theirs = console_spans(stdout)
    assert theirs, stderr
    (accept,) = [s for s in theirs if s["name"] == "accept /chat"]
    assert accept["kind"] == "SpanKind.SERVER"
    assert accept["context"]["trace_id"] == format(connect.context.trace_id, "#034x")
    assert accept["parent_id"] == format(connect.context.span_id, "#018x")
    assert accept["attributes"]["websocket.close.code"] == 1000
    processes = [s for s in theirs if s["kind"] == "SpanKind.CONSUMER"]
    assert len(processes) == 2
    enveloped = [p for p in processes if p["parent_id"] in client_sends]
    assert len(enveloped) == 1, "the JSON message carried the client's send span"
    sends = [s for s in theirs if s["kind"] == "SpanKind.PRODUCER"]
    assert len(sends) == 2 and {s["parent_id"] for s in sends} == {p["context"]["span_id"] for p in processes}
