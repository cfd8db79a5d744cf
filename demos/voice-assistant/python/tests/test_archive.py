"""archive: jobs queued in a real Redis as the gateway queues them, processed
in process (spans from the in-memory exporter) and as the worker runs in the
demo (a subprocess that prints READY, exports over OTLP/HTTP and stops on
SIGTERM after working off the queue)."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
from typing import Any, Dict, List

import pytest
import tracewire
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import archive
from conftest import OtlpReceiver, RedisServer
from helpers import attributes, command, parent_id, service_env, span_id, trace_id

READY = re.compile(r"^READY redis://127\.0\.0\.1:(\d+)/voice-assistant\.archive\n$")


def queue_turn(server: RedisServer, turn: int, carrier: bytes, session: str = "s1") -> bytes:
    """Pushes one job as the gateway does; returns its bytes."""
    job = json.dumps({
        "session": session, "turn": turn, "transcript": "what is the weather in lisbon",
        "answer": "it is sunny in lisbon", "carrier": carrier.hex(),
    }).encode()
    server.client.lpush(archive.QUEUE, job)
    return job


def work_off_queue(server: RedisServer) -> None:
    """Runs the worker in this process until the queue is empty."""
    stop = threading.Event()
    stop.set()
    archive.Worker(server.client, "127.0.0.1", server.port).run(stop)


def archived(server: RedisServer) -> Dict[str, Dict[str, Any]]:
    return {k.decode(): json.loads(v) for k, v in server.client.hgetall(archive.ARCHIVE).items()}


def processed(spans: InMemorySpanExporter) -> List[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == "process voice-assistant.archive"]


def test_process_span_is_a_child_of_the_send_span_and_links_to_it(
    spans: InMemorySpanExporter, redis_server: RedisServer
) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("send voice-assistant.archive", kind=SpanKind.PRODUCER) as send:
        job = queue_turn(redis_server, 2, tracewire.capture())
    work_off_queue(redis_server)

    [process] = processed(spans)
    assert process.kind == SpanKind.CONSUMER
    sent = send.get_span_context()
    assert (trace_id(process), parent_id(process)) == (sent.trace_id, sent.span_id)
    assert process.parent is not None and process.parent.is_remote
    assert [(link.context.trace_id, link.context.span_id) for link in process.links] == [
        (sent.trace_id, sent.span_id)]
    assert attributes(process) == {
        "messaging.system": "redis",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "voice-assistant.archive",
        "messaging.message.body.size": len(job),
        "server.address": "127.0.0.1",
        "server.port": redis_server.port,
        "demo.turn": 2,
    }
    assert process.status.status_code == StatusCode.UNSET
    assert archived(redis_server) == {"s1/2": {
        "transcript": "what is the weather in lisbon", "answer": "it is sunny in lisbon",
        "transcript_words": 6, "answer_words": 5,
    }}
    assert redis_server.client.llen(archive.QUEUE) == 0


def test_a_job_without_a_context_starts_a_trace(spans: InMemorySpanExporter, redis_server: RedisServer) -> None:
    # What a gateway with tracing off queues: a carrier with no traceparent.
    queue_turn(redis_server, 1, tracewire.capture(trace.set_span_in_context(trace.INVALID_SPAN)))
    work_off_queue(redis_server)
    [process] = processed(spans)
    assert process.parent is None
    assert list(process.links) == []
    assert "s1/1" in archived(redis_server)


@pytest.mark.parametrize(
    ("job", "error"),
    [
        (b"not json", "BadJob"),
        (b"[1, 2]", "BadJob"),
        (json.dumps({"session": "s", "turn": "1", "transcript": "", "answer": "", "carrier": ""}).encode(), "BadJob"),
        (json.dumps({"session": "s", "turn": 1, "transcript": "", "answer": "", "carrier": "zz"}).encode(), "BadJob"),
        (json.dumps({"session": "s", "turn": 1, "transcript": "", "answer": "", "carrier": "00ff"}).encode(),
         "InvalidEnvelopeError"),
    ],
    ids=["not-json", "not-an-object", "turn-not-int", "carrier-not-hex", "carrier-not-an-envelope"],
)
def test_a_bad_job_is_an_error_span_and_the_worker_goes_on(
    spans: InMemorySpanExporter, redis_server: RedisServer, job: bytes, error: str
) -> None:
    redis_server.client.lpush(archive.QUEUE, job)
    queue_turn(redis_server, 3, tracewire.capture())
    work_off_queue(redis_server)

    bad, good = processed(spans)
    assert bad.status.status_code == StatusCode.ERROR
    assert attributes(bad)["error.type"] == error
    assert "demo.turn" not in attributes(bad)
    assert good.status.status_code == StatusCode.UNSET
    assert list(archived(redis_server)) == ["s1/3"]


def test_subprocess_ready_jobs_export_and_sigterm_works_off_the_queue(
    spans: InMemorySpanExporter, otlp: OtlpReceiver, redis_server: RedisServer
) -> None:
    env = service_env(OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)
    proc = subprocess.Popen(command("archive.py", "--redis", redis_server.address), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert READY.match(line), line
        assert READY.match(line).group(1) == str(redis_server.port)  # type: ignore[union-attr]
        with trace.get_tracer("test").start_as_current_span("send", kind=SpanKind.PRODUCER) as send:
            # Queued just before SIGTERM: the worker processes them all before it stops.
            for turn in (1, 2, 3):
                queue_turn(redis_server, turn, tracewire.capture())
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        rest_of_stdout = proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    assert rest_of_stdout == ""  # the READY line is all the worker prints
    assert sorted(archived(redis_server)) == ["s1/1", "s1/2", "s1/3"]

    exported = otlp.named("process voice-assistant.archive")
    assert sorted(s.attributes["demo.turn"] for s in exported) == [1, 2, 3]
    for span in exported:
        assert span.resource["service.name"] == "archive"
        assert span.resource["telemetry.sdk.language"] == "python"
        assert (span.trace_id, span.parent_id) == (format(trace_id(send), "032x"), format(span_id(send), "016x"))


def test_subprocess_with_tracing_off_archives_and_exports_nothing(
    otlp: OtlpReceiver, redis_server: RedisServer
) -> None:
    env = service_env(OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint)
    queue_turn(redis_server, 1, tracewire.capture())
    proc = subprocess.Popen(command("archive.py", "--redis", redis_server.address), env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert READY.match(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        proc.wait()
    assert list(archived(redis_server)) == ["s1/1"]
    assert otlp.spans == []


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        ([], 2, "--redis"),
        (["--redis", "localhost"], 2, "expected HOST:PORT"),
        (["--redis", "127.0.0.1:{closed}"], 1, "redis at 127.0.0.1:"),
    ],
)
def test_cannot_start(args: List[str], code: int, reason: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
        args = [a.format(closed=closed) for a in args]
        env = service_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
        result = subprocess.run(command("archive.py", *args), env=env, capture_output=True, text=True, timeout=20)
    assert result.returncode == code
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert reason in result.stderr
