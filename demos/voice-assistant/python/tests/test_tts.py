"""tts: one turn driven by a traced client, in process (spans from the
in-memory exporter) and as the service runs in the demo (a subprocess that
prints READY, exports over OTLP/HTTP and stops on SIGTERM)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import pytest
import tracewire.ws
import websockets
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import service
import tts
from conftest import OtlpReceiver
from helpers import attributes, by_id, children, command, parent_id, service_env, span_id, trace_id

T = TypeVar("T")
WORDS = ["it ", "is ", "sunny ", "in "]
READY = re.compile(r"^READY ws://127\.0\.0\.1:(\d+)/tts\n$")


async def with_tts(settings: service.Settings, body: Callable[[str], Awaitable[T]]) -> T:
    """Runs tts's server in this process around ``body(url)``."""
    stop = asyncio.Event()
    ready: "asyncio.Future[str]" = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(tts.serve("127.0.0.1", 0, settings, stop, on_ready=ready.set_result))
    try:
        return await body(await asyncio.wait_for(ready, 5))
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def speak_turn(
    conn: tracewire.ws.TracedConnection, turn: int, words: Sequence[str]
) -> Tuple[List[bytes], Dict[str, Any]]:
    """Sends one turn as the gateway does (all texts at once); returns the
    audio chunks and ``done``."""
    await conn.send(json.dumps({"type": "start", "turn": turn}))
    for word in words:
        await conn.send(json.dumps({"type": "text", "turn": turn, "text": word}))
    await conn.send(json.dumps({"type": "end", "turn": turn}))
    audio: List[bytes] = []
    while True:
        message = await asyncio.wait_for(conn.recv(), 10)
        if isinstance(message.data, bytes):
            audio.append(message.data)
        else:
            return audio, json.loads(message.data)


async def one_session(url: str, model: str, turns: int = 1) -> List[Tuple[List[bytes], Dict[str, Any]]]:
    """Connects like the gateway, speaks ``turns`` turns, closes with 1000."""
    async with tracewire.ws.connect(url, model=model, strip=True) as conn:
        return [await speak_turn(conn, turn, WORDS) for turn in range(1, turns + 1)]


def expected_audio(chunks: int) -> List[bytes]:
    return [service.tone_chunk(i, frequency_hz=330.0) for i in range(chunks)]


@pytest.mark.parametrize("model", ["connection", "message"])
def test_one_turn_spans(spans: InMemorySpanExporter, model: str) -> None:
    settings = service.Settings(model=model, pace=0.0)
    [(audio, done)] = asyncio.run(with_tts(settings, lambda url: one_session(url, model)))

    assert done == {"type": "done", "turn": 1, "chunks": 3 * len(WORDS)}
    assert audio == expected_audio(3 * len(WORDS))
    assert all(len(chunk) == 640 for chunk in audio)

    finished = spans.get_finished_spans()
    assert not [s.name for s in finished if s.status.status_code == StatusCode.ERROR]
    [synthesize] = [s for s in finished if s.name == "synthesize"]
    assert synthesize.kind == SpanKind.INTERNAL
    synthesized = attributes(synthesize)
    assert synthesized["demo.turn"] == 1
    assert synthesized["tracewire.stream.chunk_count"] == 12
    assert synthesized["tracewire.stream.bytes"] == 12 * 640
    assert 0 < synthesized["tracewire.stream.time_to_first_chunk"] <= synthesized["tracewire.stream.time_to_last_chunk"]

    # Parent: tts's process span of `start`, itself under the client's send span.
    start_process = by_id(finished, parent_id(synthesize))
    assert (start_process.name, start_process.kind) == ("process /tts", SpanKind.CONSUMER)
    start_send = by_id(finished, parent_id(start_process))
    assert (start_send.name, start_send.kind) == ("send /tts", SpanKind.PRODUCER)
    client_sends = [s for s in finished if s.name == "send /tts" and parent_id(s) != span_id(synthesize)]
    assert min(client_sends, key=lambda s: s.start_time or 0) is start_send
    assert len(client_sends) == 2 + len(WORDS)

    # 12 audio chunks and `done`, all sent under synthesize, each received by the client.
    tts_sends = children(finished, synthesize, "send /tts")
    assert len(tts_sends) == 13
    received = [s for s in finished if s.name == "process /tts" and parent_id(s) in {span_id(t) for t in tts_sends}]
    assert len(received) == 13

    [connect] = [s for s in finished if s.name == "connect /tts"]
    if model == "connection":
        assert trace_id(synthesize) == trace_id(connect)
    else:
        assert trace_id(synthesize) == trace_id(start_send) != trace_id(connect)


def test_turns_one_after_another(spans: InMemorySpanExporter) -> None:
    settings = service.Settings(model="connection", pace=0.0)
    results = asyncio.run(with_tts(settings, lambda url: one_session(url, "connection", turns=2)))
    assert [done for _, done in results] == [
        {"type": "done", "turn": n, "chunks": 12} for n in (1, 2)
    ]
    synthesized = sorted(
        (s for s in spans.get_finished_spans() if s.name == "synthesize"),
        key=lambda s: attributes(s)["demo.turn"],
    )
    assert [attributes(s)["tracewire.stream.chunk_count"] for s in synthesized] == [12, 12]


def test_pacing_and_receiving_while_speaking(spans: InMemorySpanExporter) -> None:
    pace = 0.5
    settings = service.Settings(model="connection", pace=pace)
    [(audio, done)] = asyncio.run(with_tts(settings, lambda url: one_session(url, "connection")))
    assert done["chunks"] == 12 and audio == expected_audio(12)  # in text order

    finished = spans.get_finished_spans()
    [synthesize] = [s for s in finished if s.name == "synthesize"]
    chunk_sends = children(finished, synthesize, "send /tts")[:-1]  # without `done`
    tts_send_ids = {span_id(s) for s in children(finished, synthesize)}
    # tts's process spans of start, texts and end (not the client's of the audio).
    tts_processes = sorted(
        (s for s in finished if s.name == "process /tts" and parent_id(s) not in tts_send_ids),
        key=lambda s: s.start_time or 0,
    )
    assert len(tts_processes) == 2 + len(WORDS)
    # Receiving is not held up by speaking: every message was handled
    # before the first chunk went out.
    first_chunk_at = chunk_sends[0].start_time or 0
    assert all((p.end_time or 0) <= first_chunk_at for p in tts_processes)
    # The first chunk 40 ms x pace after its text, then 20 ms x pace apart.
    ms = 1e6
    first_text = tts_processes[1]
    assert first_chunk_at - (first_text.start_time or 0) >= 40 * pace * ms
    starts = [s.start_time or 0 for s in chunk_sends]
    assert all(later - earlier >= 19 * pace * ms for earlier, later in zip(starts[:2], starts[1:3]))


def test_other_paths_are_not_found() -> None:
    async def knock(url: str) -> Optional[int]:
        try:
            async with websockets.connect(url.replace("/tts", "/voice")):
                return None
        except websockets.exceptions.InvalidStatus as exc:
            return exc.response.status_code

    settings = service.Settings(model="connection", pace=0.0)
    assert asyncio.run(with_tts(settings, knock)) == 404


@pytest.mark.parametrize("service_name", [None, "speech"])
def test_subprocess_ready_turn_export_and_sigterm(
    spans: InMemorySpanExporter, otlp: OtlpReceiver, service_name: Optional[str]
) -> None:
    env = service_env(DEMO_PACE="0", OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)
    if service_name is not None:
        env["OTEL_SERVICE_NAME"] = service_name

    async def scenario() -> Tuple[int, bytes, List[Tuple[List[bytes], Dict[str, Any]]]]:
        proc = await asyncio.create_subprocess_exec(
            *command("tts.py"), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = READY.match(line)
        assert match, line
        results = await one_session(f"ws://127.0.0.1:{match.group(1)}/tts", "connection")
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 10)
        return code, await proc.stdout.read(), results

    code, rest_of_stdout, [(audio, done)] = asyncio.run(scenario())
    assert code == 0
    assert rest_of_stdout == b""  # the READY line is all tts prints
    assert done["chunks"] == len(audio) == 12

    [synthesize] = otlp.named("synthesize")
    assert synthesize.resource["service.name"] == (service_name or "tts")
    assert synthesize.resource["telemetry.sdk.language"] == "python"
    assert synthesize.attributes["demo.turn"] == 1
    assert synthesize.attributes["tracewire.stream.chunk_count"] == 12
    assert {"accept /tts", "process /tts", "send /tts"} <= {s.name for s in otlp.spans}
    # One trace from the client's connect span through tts.
    [connect] = [s for s in spans.get_finished_spans() if s.name == "connect /tts"]
    assert synthesize.trace_id == format(trace_id(connect), "032x")


def test_subprocess_with_tracing_off_exports_nothing(otlp: OtlpReceiver) -> None:
    env = service_env(DEMO_PACE="0", OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)

    async def scenario() -> Tuple[int, List[Tuple[List[bytes], Dict[str, Any]]]]:
        proc = await asyncio.create_subprocess_exec(*command("tts.py"), env=env, stdout=asyncio.subprocess.PIPE)
        assert proc.stdout is not None
        match = READY.match((await asyncio.wait_for(proc.stdout.readline(), 20)).decode())
        assert match
        results = await one_session(f"ws://127.0.0.1:{match.group(1)}/tts", "connection")
        proc.send_signal(signal.SIGINT)
        return await asyncio.wait_for(proc.wait(), 10), results

    code, [(audio, done)] = asyncio.run(scenario())
    assert (code, done["chunks"], len(audio)) == (0, 12, 12)
    assert otlp.spans == []


def _listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize(
    ("variables", "args", "reason"),
    [
        ({"TRACEWIRE_MODEL": "both"}, [], "TRACEWIRE_MODEL='both'"),
        ({"DEMO_PACE": "fast"}, [], "DEMO_PACE='fast'"),
        ({"DEMO_PACE": "-1"}, [], "DEMO_PACE='-1'"),
        ({}, ["--port", "70000"], "--port"),
        ({}, ["--port", "{taken}"], "cannot listen on 127.0.0.1:"),
    ],
)
def test_cannot_start(variables: Dict[str, str], args: List[str], reason: str) -> None:
    with _listening_socket() as taken:
        args = [a.format(taken=taken.getsockname()[1]) for a in args]
        # Tracing on, towards a port nobody listens on: failing must not hang on it.
        env = service_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", **variables)
        result = subprocess.run(command("tts.py", *args), env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert reason in result.stderr
