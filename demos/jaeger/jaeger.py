"""Jaeger v2 on loopback, as the voice assistant's real tracing backend.

`Jaeger` starts the binary `make -C demos jaeger` builds with config.yaml
beside this file (in-memory storage, OTLP/HTTP in, the query API out), waits
until it answers, reads traces back through its query API and stops it.
`records` turns the API's answer into the span records the demo's own
receiver writes (demos/README.md), so the same checks run on both.

Only the standard library is used, as in run.py.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BINARY = TARGET / "jaeger" / "bin" / "jaeger"
CONFIG = HERE / "config.yaml"
# Jaeger's usual ports, for a person to find it; tests ask for free ones.
STANDARD_PORTS = {"otlp": 4318, "query": 16686, "query_grpc": 16685, "health": 13133}
READY_TIMEOUT_S = 60.0

Record = Dict[str, Any]


class JaegerError(Exception):
    """Jaeger could not be started or answered something unexpected."""


def free_ports(names: Iterable[str]) -> Dict[str, int]:
    """A free loopback port for each name (bound together, so distinct)."""
    sockets = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return {name: s.getsockname()[1] for name, s in zip(names, sockets)}
    finally:
        for s in sockets:
            s.close()


class Jaeger:
    """One Jaeger process, in its own process group, with its log kept in
    ``log_path`` to explain a failure."""

    def __init__(self, ports: Optional[Dict[str, int]] = None, log_path: Optional[Path] = None) -> None:
        if not BINARY.exists():
            raise JaegerError(f"not built: {BINARY}\n  (run `make -C demos jaeger`)")
        self.ports = dict(ports or STANDARD_PORTS)
        busy = [port for port in self.ports.values() if _listening(port)]
        if busy:
            raise JaegerError(f"port {busy[0]} on 127.0.0.1 is taken: is another Jaeger running?")
        env = dict(os.environ)
        env.update({f"JAEGER_{name.upper()}_PORT": str(port) for name, port in self.ports.items()})
        self.log_path = log_path or TARGET / "jaeger" / "jaeger.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [str(BINARY), "--config", f"file:{CONFIG}"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP base URL, for ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://127.0.0.1:{self.ports['otlp']}"

    @property
    def query_url(self) -> str:
        """The query API's base URL."""
        return f"http://127.0.0.1:{self.ports['query']}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Returns once the query API answers; JaegerError if Jaeger exits
        or stays silent for ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise JaegerError(f"jaeger exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                self._get("/api/services")
                if _listening(self.ports["otlp"]):
                    return
            except JaegerError:
                pass
            time.sleep(0.2)
        raise JaegerError(f"jaeger did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _get(self, path: str, params: Optional[Dict[str, str]] = None) -> Any:
        url = self.query_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise JaegerError(f"GET {url}: HTTP {exc.code}") from exc
        except (OSError, ValueError) as exc:
            raise JaegerError(f"GET {url}: {exc}") from exc

    def services(self) -> List[str]:
        """The service names Jaeger has spans of."""
        answer = self._get("/api/services") or {}
        return sorted(answer.get("data") or [])

    def trace(self, trace_id: str) -> List[Record]:
        """The spans of one trace (API v3, OTLP JSON) as span records; empty
        when Jaeger has none."""
        answer = self._get(f"/api/v3/traces/{trace_id}")
        return records(answer.get("result", {}).get("resourceSpans", [])) if answer else []

    def trace_ids(self, service: str, since_unix_s: float) -> List[str]:
        """The ids of the traces with spans of ``service`` since then (API v1
        search: it takes a lookback, which v3 search needs as a time range)."""
        answer = self._get("/api/traces", {
            "service": service, "limit": "10000",
            "start": str(int(since_unix_s * 1e6)), "end": str(int((time.time() + 60) * 1e6)),
        }) or {}
        return [t["traceID"] for t in answer.get("data") or []]

    def all_traces(self, services: Iterable[str], since_unix_s: float) -> List[Dict[str, Any]]:
        """Every trace with spans of any of ``services``, as ``{"trace_id",
        "spans"}``, the receiver's file layout."""
        ids = sorted({i for service in services for i in self.trace_ids(service, since_unix_s)})
        return [{"trace_id": i, "spans": self.trace(i)} for i in ids]

    def wait_for_spans(self, trace_id: str, count: int, timeout: float = 15.0) -> List[Record]:
        """The trace once it holds at least ``count`` spans and stopped
        growing (Jaeger stores batches as they come)."""
        deadline = time.monotonic() + timeout
        spans: List[Record] = []
        while time.monotonic() < deadline:
            previous, spans = len(spans), self.trace(trace_id)
            if len(spans) >= count and len(spans) == previous:
                break
            time.sleep(0.5)
        return spans

    def stop(self) -> None:
        """SIGTERM, SIGKILL after 10 s."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# OTLP JSON as Jaeger's API v3 writes it: enums by name or number, ids in hex
# (base64 in the OTLP/JSON of some versions), int64 values as strings.
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUSES = {0: "unset", 1: "ok", 2: "error"}


def _enum(value: Any, names: Dict[int, str], prefix: str) -> str:
    if isinstance(value, int):
        return names.get(value, names[0])
    text = str(value or "")
    return text[len(prefix):].lower() if text.startswith(prefix) else names[0]


def _hex_id(value: Optional[str], size: int) -> Optional[str]:
    if not value:
        return None
    if len(value) == 2 * size and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    return base64.b64decode(value).hex()


def _value(value: Dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_value(v) for v in value["arrayValue"].get("values", [])]
    return None


def _attributes(pairs: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    return {pair["key"]: _value(pair.get("value", {})) for pair in pairs or []}


def records(resource_spans: List[Dict[str, Any]]) -> List[Record]:
    """OTLP JSON ``resourceSpans`` as the demo receiver's span records."""
    out: List[Record] = []
    for group in resource_spans:
        resource = _attributes(group.get("resource", {}).get("attributes"))
        for scope in group.get("scopeSpans", []):
            for span in scope.get("spans", []):
                status = span.get("status", {})
                out.append({
                    "trace_id": _hex_id(span.get("traceId"), 16),
                    "span_id": _hex_id(span.get("spanId"), 8),
                    "parent_span_id": _hex_id(span.get("parentSpanId"), 8),
                    "name": span.get("name", ""),
                    "kind": _enum(span.get("kind"), _KINDS, "SPAN_KIND_"),
                    "service": resource.get("service.name", ""),
                    "language": resource.get("telemetry.sdk.language", ""),
                    "start_unix_nano": int(span.get("startTimeUnixNano", 0)),
                    "end_unix_nano": int(span.get("endTimeUnixNano", 0)),
                    "status": {"code": _enum(status.get("code"), _STATUSES, "STATUS_CODE_"),
                               "message": status.get("message", "")},
                    "attributes": _attributes(span.get("attributes")),
                    "events": [{"name": e.get("name", ""), "attributes": _attributes(e.get("attributes"))}
                               for e in span.get("events", [])],
                    "links": [{"trace_id": _hex_id(link.get("traceId"), 16),
                               "span_id": _hex_id(link.get("spanId"), 8),
                               "attributes": _attributes(link.get("attributes"))}
                              for link in span.get("links", [])],
                })
    return out
