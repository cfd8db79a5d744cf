"""Adversarial input against the traced servers of Python, Go and Java.

The demo's servers (tts: Python websockets, asr: Go coder/websocket, llm:
Java Tyrus), tracing on, each get a 60 MiB binary frame and, on another
connection, an upgrade request with 1 MiB of baggage. Each must refuse both
without holding the input: the growth of its peak RSS (VmHWM) over what the
same server reached after one ordinary connection stays within
docs/PROTOCOL.md section 11's budget (4x the input; refused inputs should
cost far less), and the server still serves afterwards. The figures are
printed (`pytest -s`). The Rust server's case is core/tests/memory_budget.rs.
"""

from __future__ import annotations

import base64
import os
import socket
import sys
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos" / "voice-assistant"))

import run  # noqa: E402  (the demo's runner, beside it)

MIB = 1 << 20
FRAME = 60 * MIB
HEADERS = 1 * MIB
SERVERS = ("tts", "asr", "llm")


def peak_rss(pid: int) -> int:
    """VmHWM, the process's peak resident memory so far, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[Tuple[str, run.Service]]:
    env: Dict[str, str] = dict(os.environ)
    env.update(OTEL_SERVICE_NAME=request.param, OTEL_TRACES_EXPORTER="none",
               OTEL_METRICS_EXPORTER="none", DEMO_PACE="0")
    service = run.Service(request.param, run.ARTIFACTS[request.param], env, server=True,
                          on_line=lambda line: None, echo_stderr=False)
    try:
        url = service.wait_ready(run.READY_TIMEOUT_S)
        yield url, service
    finally:
        service.kill()


def ordinary_connection(url: str) -> None:
    with connect(url, open_timeout=10) as ws:
        ws.close()


def send_frame(url: str, size: int) -> str:
    """Sends one binary frame of `size` bytes; how the server answered."""
    try:
        with connect(url, open_timeout=10, close_timeout=5) as ws:
            ws.send(b"\0" * size)
            ws.recv(timeout=10)
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else 'without a close frame'}"
    except (OSError, TimeoutError) as exc:
        return f"connection ended ({type(exc).__name__})"
    return "accepted"


def send_headers(url: str, size: int) -> str:
    """An upgrade request with a `size`-byte baggage header; the status line
    of the answer, or how the connection ended."""
    host, port = url.split("/")[2].split(":")
    path = "/" + url.split("/", 3)[3]
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"baggage: k=" + "v" * size + "\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as s:
        try:
            s.sendall(request)
            answer = s.recv(200)
        except OSError as exc:
            return f"connection ended ({type(exc).__name__})"
    return answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"


@pytest.mark.parametrize("case", ["frame", "headers"])
def test_adversarial_input_stays_within_budget(server: Tuple[str, run.Service], case: str) -> None:
    url, service = server
    ordinary_connection(url)
    before = peak_rss(service.proc.pid)
    size = FRAME if case == "frame" else HEADERS
    outcome = send_frame(url, size) if case == "frame" else send_headers(url, size)
    growth = peak_rss(service.proc.pid) - before
    print(f"\n{service.name}: {size // MIB} MiB {case}: {outcome}; peak RSS grew {growth / MIB:.1f} MiB")
    assert outcome != "accepted", f"{service.name} accepted a {size // MIB} MiB {case}"
    assert growth <= 4 * size, f"{service.name}: peak RSS grew {growth / MIB:.1f} MiB"
    assert service.proc.poll() is None, service.why()
    ordinary_connection(url)
