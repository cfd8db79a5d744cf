"""tts_plain: the FastAPI tts with no tracewire code, run as `make demo
AGENT=1` runs it (a subprocess under ``opentelemetry-instrument`` that
prints READY, exports over OTLP/HTTP and stops on SIGTERM), driven like the
gateway by a traced client: the spans tracewire's instrumentor gives it are
those of tts.py."""

from __future__ import annotations

import ast
import asyncio
import re
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tts_plain
from conftest import ExportedSpan, OtlpReceiver
from helpers import SERVICES_DIR, service_env, span_id, trace_id
from test_tts import WORDS, expected_audio, one_session

READY = re.compile(r"^READY ws://127\.0\.0\.1:(\d+)/tts\n$")
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"


def test_no_tracewire_code() -> None:
    tree = ast.parse((SERVICES_DIR / "tts_plain.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not [m for m in imported if m.split(".")[0] in ("tracewire", "service")]


def test_same_audio_as_tts() -> None:
    assert [tts_plain.tone_chunk(i) for i in range(12)] == expected_audio(12)


@pytest.mark.parametrize("model", ["connection", "message"])
def test_under_opentelemetry_instrument(spans: InMemorySpanExporter, otlp: OtlpReceiver, model: str) -> None:
    env = service_env(
        DEMO_PACE="0",
        OTEL_SERVICE_NAME="tts",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_PYTHON_TRACEWIRE_MODEL=model,
    )

    async def scenario() -> Tuple[int, bytes, List[Tuple[List[bytes], Dict[str, Any]]]]:
        proc = await asyncio.create_subprocess_exec(
            str(INSTRUMENT), sys.executable, str(SERVICES_DIR / "tts_plain.py"),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = READY.match(line)
        assert match, (line, await proc.stderr.read())
        results = await one_session(f"ws://127.0.0.1:{match.group(1)}/tts", model)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15)
        return code, await proc.stdout.read(), results

    code, rest_of_stdout, [(audio, done)] = asyncio.run(scenario())
    assert code == 0
    assert rest_of_stdout == b""
    assert done == {"type": "done", "turn": 1, "chunks": 12}
    assert audio == expected_audio(12)

    by_id: Dict[str, ExportedSpan] = {s.span_id: s for s in otlp.spans}
    [accept] = otlp.named("accept /tts")
    assert accept.resource["service.name"] == "tts"
    assert accept.attributes["tracewire.model"] == model
    [synthesize] = otlp.named("synthesize")
    assert synthesize.attributes["demo.turn"] == 1 and synthesize.attributes["demo.chunks"] == 12
    # Parent: the process span of `start`, itself under the client's first send span.
    start_process = by_id[synthesize.parent_id or ""]
    assert start_process.name == "process /tts"
    client = spans.get_finished_spans()
    [connect] = [s for s in client if s.name == "connect /tts"]
    client_sends = sorted((s for s in client if s.name == "send /tts"), key=lambda s: s.start_time or 0)
    assert start_process.parent_id == format(span_id(client_sends[0]), "016x")
    assert accept.parent_id == format(span_id(connect), "016x")
    # 12 audio chunks and `done`, sent under synthesize, each received by the client.
    tts_sends = [s for s in otlp.named("send /tts") if s.parent_id == synthesize.span_id]
    assert len(tts_sends) == 13
    received = [s for s in client if s.name == "process /tts" and s.parent is not None]
    assert {format(s.parent.span_id, "016x") for s in received if s.parent} >= {s.span_id for s in tts_sends}
    if model == "connection":
        assert synthesize.trace_id == format(trace_id(connect), "032x")
    else:
        assert synthesize.trace_id == format(trace_id(client_sends[0]), "032x") != format(trace_id(connect), "032x")
