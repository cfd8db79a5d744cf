"""Shared fixtures: the services' modules on the path, an in-memory span
exporter behind the global tracer provider (for everything that runs in the
test process) and a small OTLP/HTTP receiver (for the services run as
subprocesses, which export what they would export in the demo)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import redis

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SERVICES_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SERVICES_DIR))

# The API allows one global provider per process: installed once, cleared per test.
_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
trace.set_tracer_provider(_PROVIDER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished in this test's process, empty at the start."""
    _EXPORTER.clear()
    yield _EXPORTER


class ExportedSpan:
    """One span as a subprocess exported it over OTLP/HTTP."""

    def __init__(self, resource: Dict[str, Any], span: Any) -> None:
        self.resource = resource
        self.name: str = span.name
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_id = span.parent_span_id.hex() or None
        self.attributes = _attributes(span.attributes)
        self.status_code: int = span.status.code

    def __repr__(self) -> str:
        return f"ExportedSpan({self.name!r}, parent={self.parent_id})"


def _attributes(pairs: Any) -> Dict[str, Any]:
    values: Dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


class OtlpReceiver:
    """Accepts ``POST /v1/traces`` (protobuf) and keeps the spans. Other
    signals are counted by path and accepted, or answered ``404`` when
    ``traces_only`` (as Jaeger and Tempo answer ``/v1/metrics``)."""

    def __init__(self, traces_only: bool = False) -> None:
        self.spans: List[ExportedSpan] = []
        self.other_posts: Dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    with receiver._lock:
                        receiver.other_posts[self.path] = receiver.other_posts.get(self.path, 0) + 1
                    self.send_response(404 if traces_only else 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest.FromString(body)
                with receiver._lock:
                    for resource_spans in request.resource_spans:
                        resource = _attributes(resource_spans.resource.attributes)
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans.extend(ExportedSpan(resource, s) for s in scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def named(self, name: str) -> List[ExportedSpan]:
        """The spans called ``name``."""
        with self._lock:
            return [s for s in self.spans if s.name == name]

    def stop(self) -> None:
        """Stops listening."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    """A running OTLP/HTTP receiver; its ``endpoint`` goes in
    ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
    receiver = OtlpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def traces_only_otlp() -> Iterator[OtlpReceiver]:
    """A running OTLP/HTTP receiver that takes traces and nothing else."""
    receiver = OtlpReceiver(traces_only=True)
    yield receiver
    receiver.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A ``redis-server`` of this test's own on a free loopback port, with
    nothing persisted (its directory is the test's temporary one)."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed (Debian, Ubuntu: apt-get install redis-server)")
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
        )
        self.client: "redis.Redis[bytes]" = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        self.client.close()
        self._proc.terminate()
        self._proc.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running Redis, stopped after the test."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()
