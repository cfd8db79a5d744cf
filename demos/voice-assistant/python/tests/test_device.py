"""device against a stand-in gateway that follows the contract (in this
process, on a free port): TURN lines, exit codes and the spans, both from the
in-memory exporter (device in process) and as exported over OTLP/HTTP
(device as a subprocess)."""

from __future__ import annotations

import asyncio
import io
import json
import re
import signal
import socket
from typing import Any, Dict, List, Optional, Tuple

import pytest
import tracewire.ws
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from websockets.exceptions import ConnectionClosedError

import device
import service
from conftest import OtlpReceiver
from helpers import attributes, children, command, parent_id, service_env, span_id, trace_id

# Audio chunks the stand-in answers per turn (3 per word of the llm's answers).
ANSWER_CHUNKS = [36, 21, 9]
TURN_KEYS = {"turn", "latency_s", "time_to_first_audio_s", "time_to_last_audio_s", "audio_chunks", "trace_id"}
HEX_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class GatewayStandIn:
    """The gateway side of ``/voice``, reduced to the contract: checks each
    turn's ``turn.start``, 25 chunks of 640 bytes and ``turn.end``, then
    answers ``transcript``, the audio and ``turn.done``.

    Args:
        miscount: added to the ``audio_chunks`` that ``turn.done`` announces.
        reply_type: the ``type`` of the last message (``turn.done`` by the contract).
        silent: answer nothing at all.
    """

    def __init__(self, miscount: int = 0, reply_type: str = "turn.done", silent: bool = False) -> None:
        self.miscount = miscount
        self.reply_type = reply_type
        self.silent = silent
        self.problems: List[str] = []
        self.close_codes: List[Optional[int]] = []
        # Seconds from turn.start to turn.end, per turn.
        self.speech_s: List[float] = []
        self.heard_turn_end = asyncio.Event()
        self.url = ""
        self._server: Any = None

    async def __aenter__(self) -> "GatewayStandIn":
        self._server = await tracewire.ws.serve(self._session, "127.0.0.1", 0, strip=True).__aenter__()
        self.url = f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/voice"
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, conn: tracewire.ws.TracedConnection) -> None:
        loop = asyncio.get_running_loop()
        turn, chunks, started = 0, 0, 0.0

        async def on_message(message: tracewire.ws.Message) -> None:
            nonlocal turn, chunks, started
            if isinstance(message.data, bytes):
                chunks += 1
                if len(message.data) != 640:
                    self.problems.append(f"a chunk of {len(message.data)} bytes")
                return
            body = json.loads(message.data)
            if body["type"] == "turn.start":
                turn, chunks, started = body["turn"], 0, loop.time()
                return
            if body != {"type": "turn.end", "turn": turn, "chunks": 25} or chunks != 25:
                self.problems.append(f"turn {turn}: {body} after {chunks} chunks")
            self.speech_s.append(loop.time() - started)
            self.heard_turn_end.set()
            if self.silent:
                return
            await conn.send(json.dumps({"type": "transcript", "turn": turn, "text": "and tomorrow"}))
            count = ANSWER_CHUNKS[turn - 1]
            for index in range(count):
                await conn.send(service.tone_chunk(index))
            last = {"type": self.reply_type, "turn": turn, "audio_chunks": count + self.miscount}
            await conn.send(json.dumps(last))

        try:
            await conn.handle(on_message)
        except ConnectionClosedError:  # the device closed with an error code
            pass
        self.close_codes.append(conn.ws.close_code)


def turn_lines(stdout: str) -> List[Dict[str, Any]]:
    """The TURN lines' values; asserts that stdout holds nothing else."""
    lines = stdout.splitlines()
    assert all(line.startswith("TURN ") for line in lines), stdout
    return [json.loads(line[len("TURN "):]) for line in lines]


def check_turn_values(turns: List[Dict[str, Any]], count: int) -> None:
    assert [t["turn"] for t in turns] == list(range(1, count + 1))
    for values in turns:
        assert set(values) == TURN_KEYS
        assert values["audio_chunks"] == ANSWER_CHUNKS[values["turn"] - 1]
        assert 0 < values["time_to_first_audio_s"] <= values["time_to_last_audio_s"] < values["latency_s"]


async def run_device(*args: str, **variables: str) -> Tuple[int, str, str]:
    """device.py as a subprocess; its exit code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        *command("device.py", *args),
        env=service_env(**variables),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


def test_subprocess_three_turns_exported(otlp: OtlpReceiver) -> None:
    async def scenario() -> Tuple[Tuple[int, str, str], GatewayStandIn]:
        async with GatewayStandIn() as gateway:
            result = await run_device("--url", gateway.url, DEMO_PACE="0", OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)
        return result, gateway

    (code, stdout, stderr), gateway = asyncio.run(scenario())
    assert (code, stderr) == (0, "")
    assert gateway.problems == [] and gateway.close_codes == [1000]
    turns = turn_lines(stdout)
    check_turn_values(turns, 3)

    # Connection model: one trace, the device's connect span at its root.
    [connect] = otlp.named("connect /voice")
    assert connect.parent_id is None
    assert connect.resource["service.name"] == "device"
    assert connect.resource["telemetry.sdk.language"] == "python"
    assert {t["trace_id"] for t in turns} == {connect.trace_id}
    exported_turns = sorted(otlp.named("turn"), key=lambda s: s.attributes["demo.turn"])
    assert [s.parent_id for s in exported_turns] == [connect.span_id] * 3
    answers = {s.parent_id: s for s in otlp.named("answer audio")}
    for turn, span in zip(turns, exported_turns):
        answer = answers[span.span_id]
        assert answer.attributes["demo.turn"] == turn["turn"]
        assert answer.attributes["tracewire.stream.chunk_count"] == turn["audio_chunks"]
        assert answer.attributes["tracewire.stream.bytes"] == 640 * turn["audio_chunks"]
        assert answer.attributes["tracewire.stream.time_to_first_chunk"] == pytest.approx(
            turn["time_to_first_audio_s"])
        sends = [s for s in otlp.named("send /voice") if s.parent_id == span.span_id]
        assert len(sends) == 27
    assert all(s.status_code != StatusCode.ERROR.value for s in otlp.spans)


def test_subprocess_exports_stream_metrics(otlp: OtlpReceiver) -> None:
    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn() as gateway:
            return await run_device("--url", gateway.url, "--turns", "1", DEMO_PACE="0",
                                    OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)

    code, _, stderr = asyncio.run(scenario())
    assert (code, stderr) == (0, "")
    assert otlp.other_posts.get("/v1/metrics", 0) >= 1, otlp.other_posts


def test_traces_only_backend_fails_nothing(traces_only_otlp: OtlpReceiver) -> None:
    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn() as gateway:
            return await run_device("--url", gateway.url, "--turns", "1", DEMO_PACE="0",
                                    OTEL_EXPORTER_OTLP_ENDPOINT=traces_only_otlp.endpoint)

    code, stdout, stderr = asyncio.run(scenario())
    assert code == 0, stderr
    check_turn_values(turn_lines(stdout), 1)
    assert traces_only_otlp.named("turn"), "the spans still arrive"
    assert traces_only_otlp.other_posts.get("/v1/metrics", 0) >= 1
    # One line says which signal was not accepted and how to turn it off,
    # and one counts the failures at exit.
    lines = stderr.splitlines()
    assert len(lines) == 2, stderr
    assert "metrics were not accepted" in lines[0] and "OTEL_METRICS_EXPORTER=none" in lines[0], stderr
    assert "metrics exports failed" in lines[1], stderr


def test_metrics_exporter_none_sends_no_metrics(otlp: OtlpReceiver) -> None:
    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn() as gateway:
            return await run_device("--url", gateway.url, "--turns", "1", DEMO_PACE="0",
                                    OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint, OTEL_METRICS_EXPORTER="none")

    code, _, stderr = asyncio.run(scenario())
    assert (code, stderr) == (0, "")
    assert otlp.named("turn")
    assert otlp.other_posts == {}


def test_subprocess_with_tracing_off(otlp: OtlpReceiver) -> None:
    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn() as gateway:
            return await run_device("--url", gateway.url, "--turns", "2", DEMO_PACE="0", OTEL_SDK_DISABLED="true",
                                    OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)

    code, stdout, stderr = asyncio.run(scenario())
    assert (code, stderr) == (0, "")
    turns = turn_lines(stdout)
    check_turn_values(turns, 2)
    assert [t["trace_id"] for t in turns] == [None, None]
    assert otlp.spans == []


@pytest.mark.parametrize("model", ["connection", "message"])
def test_spans_in_process(spans: InMemorySpanExporter, model: str) -> None:
    out = io.StringIO()

    async def scenario() -> GatewayStandIn:
        async with GatewayStandIn() as gateway:
            await device.converse(gateway.url, 3, service.Settings(model=model, pace=0.0), out=out)
        return gateway

    gateway = asyncio.run(scenario())
    assert gateway.problems == [] and gateway.close_codes == [1000]
    turns = turn_lines(out.getvalue())
    check_turn_values(turns, 3)

    finished = spans.get_finished_spans()
    assert not [s.name for s in finished if s.status.status_code == StatusCode.ERROR]
    [connect] = [s for s in finished if s.name == "connect /voice"]
    turn_spans = sorted((s for s in finished if s.name == "turn"), key=lambda s: attributes(s)["demo.turn"])
    assert [attributes(s)["demo.turn"] for s in turn_spans] == [1, 2, 3]
    assert [format(trace_id(s), "032x") for s in turn_spans] == [t["trace_id"] for t in turns]
    if model == "connection":
        assert all(parent_id(s) == span_id(connect) for s in turn_spans)
        assert {trace_id(s) for s in turn_spans} == {trace_id(connect)}
    else:
        assert all(parent_id(s) is None for s in turn_spans)
        assert len({trace_id(s) for s in turn_spans} | {trace_id(connect)}) == 4
    for turn, span in zip(turns, turn_spans):
        sends = children(finished, span, "send /voice")
        assert len(sends) == 27
        [answer] = children(finished, span, "answer audio")
        answered = attributes(answer)
        assert answered["demo.turn"] == turn["turn"]
        assert answered["tracewire.stream.chunk_count"] == turn["audio_chunks"]
        assert answered["tracewire.stream.bytes"] == 640 * turn["audio_chunks"]
        # answer audio starts once turn.end is sent.
        assert (answer.start_time or 0) >= (sends[-1].end_time or 0)
        # The gateway's process spans are children of these sends.
        send_ids = {span_id(s) for s in sends}
        assert len([s for s in finished if s.name == "process /voice" and parent_id(s) in send_ids]) == 27


def test_pace_spaces_the_chunks() -> None:
    pace = 0.2

    async def scenario() -> GatewayStandIn:
        async with GatewayStandIn() as gateway:
            await device.converse(gateway.url, 1, service.Settings(model="connection", pace=pace), out=io.StringIO())
        return gateway

    [speech_s] = asyncio.run(scenario()).speech_s
    assert speech_s >= 25 * 0.020 * pace


def test_stall_is_an_error(spans: InMemorySpanExporter) -> None:
    async def scenario() -> GatewayStandIn:
        async with GatewayStandIn(silent=True) as gateway:
            with pytest.raises(device.DeviceError, match=r"no progress for 0\.3 s"):
                await device.converse(gateway.url, 1, service.Settings(model="connection", pace=0.0),
                                      out=io.StringIO(), stall_timeout_s=0.3)
        return gateway

    assert asyncio.run(scenario()).close_codes == [1011]
    [turn] = [s for s in spans.get_finished_spans() if s.name == "turn"]
    assert turn.status.status_code == StatusCode.ERROR


@pytest.mark.parametrize(
    ("gateway_options", "reason"),
    [
        ({"miscount": 1}, "turn 1: turn.done says 37 audio chunks, 36 arrived"),
        ({"reply_type": "turn.finished"}, "turn 1: unexpected message"),
    ],
)
def test_protocol_errors_exit_1(gateway_options: Dict[str, Any], reason: str) -> None:
    async def scenario() -> Tuple[Tuple[int, str, str], GatewayStandIn]:
        async with GatewayStandIn(**gateway_options) as gateway:
            return await run_device("--url", gateway.url, DEMO_PACE="0", OTEL_SDK_DISABLED="true"), gateway

    (code, stdout, stderr), gateway = asyncio.run(scenario())
    assert (code, stdout) == (1, "")
    assert len(stderr.splitlines()) == 1 and stderr.startswith(f"device: {reason}"), stderr
    assert gateway.close_codes == [1011]


def test_sigterm_stops_the_device() -> None:
    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn(silent=True) as gateway:
            proc = await asyncio.create_subprocess_exec(
                *command("device.py", "--url", gateway.url),
                env=service_env(DEMO_PACE="0", OTEL_SDK_DISABLED="true"),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            await asyncio.wait_for(gateway.heard_turn_end.wait(), 20)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 10)
            assert proc.returncode is not None
            return proc.returncode, stdout.decode(), stderr.decode()

    code, stdout, stderr = asyncio.run(scenario())
    assert (code, stdout) == (1, "")
    assert stderr == "device: stopped by a signal before the last turn\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "variables", "code", "reason"),
    [
        (["--url", "ws://127.0.0.1:{free}/voice"], {}, 1, "device: cannot connect to ws://127.0.0.1:"),
        (["--url", "http://127.0.0.1:{free}/voice"], {}, 1, "device: cannot connect to http://"),
        (["--url", "ws://127.0.0.1:1/voice", "--turns", "0"], {}, 2, "--turns: expected a whole number >= 1"),
        ([], {}, 2, "--url"),
        (["--url", "ws://127.0.0.1:1/voice"], {"TRACEWIRE_MODEL": "session"}, 2, "TRACEWIRE_MODEL='session'"),
        (["--url", "ws://127.0.0.1:1/voice"], {"DEMO_PACE": "nan"}, 2, "DEMO_PACE='nan'"),
        (["--url", "ws://127.0.0.1:1/voice"], {"OTEL_METRICS_EXPORTER": "prometheus"}, 2,
         "OTEL_METRICS_EXPORTER='prometheus': exporter 'prometheus' is not available here"),
    ],
)
def test_cannot_run(
    otlp: OtlpReceiver, args: List[str], variables: Dict[str, str], code: int, reason: str
) -> None:
    args = [a.format(free=_free_port()) for a in args]
    variables = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint, **variables}
    result_code, stdout, stderr = asyncio.run(run_device(*args, **variables))
    assert (result_code, stdout) == (code, "")
    assert len(stderr.splitlines()) == 1 and reason in stderr, stderr
    if reason.startswith("device: cannot connect to ws://"):
        [connect] = otlp.named("connect /voice")
        assert connect.status_code == StatusCode.ERROR.value


def test_many_sessions_tag_their_turns() -> None:
    """--sessions: the sessions run at once; each TURN line names its session."""

    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn() as gateway:
            return await run_device("--url", gateway.url, "--turns", "2", "--sessions", "3",
                                    DEMO_PACE="0", OTEL_SDK_DISABLED="true")

    code, stdout, stderr = asyncio.run(scenario())
    assert code == 0, stderr
    turns = turn_lines(stdout)
    assert sorted((t["session"], t["turn"]) for t in turns) == [(s, t) for s in range(3) for t in (1, 2)]


def test_a_failed_session_is_reported_and_the_others_finish() -> None:
    async def scenario() -> Tuple[int, str, str]:
        async with GatewayStandIn(miscount=1) as gateway:
            return await run_device("--url", gateway.url, "--sessions", "2", "--turns", "1",
                                    DEMO_PACE="0", OTEL_SDK_DISABLED="true")

    code, stdout, stderr = asyncio.run(scenario())
    assert code == 1
    failed = sorted(json.loads(line[len("FAILED "):])["session"]
                    for line in stdout.splitlines() if line.startswith("FAILED "))
    assert failed == [0, 1], stdout
    assert stderr.startswith("device: 2 of 2 sessions failed"), stderr
