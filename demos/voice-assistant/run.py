#!/usr/bin/env python3
"""Runs the voice-assistant demo: the OTLP receiver, five services, one device.

Starts the backend: `demos/collector` (the default, unless
OTEL_EXPORTER_OTLP_ENDPOINT points elsewhere) or, with `--backend jaeger`, a
Jaeger on loopback; then a Redis (`redis-server`, no persistence, in a
temporary directory), asr, llm, tts, the archive worker and the gateway on
free loopback ports, runs the device for a few turns, stops everything it
started (also on failure or Ctrl-C), and prints the trace: the receiver's waterfall, a summary line
and the path of its HTML trace view,
or what Jaeger's query API holds and where to look. With `--bench` it runs the
pipeline with tracing on and off, interleaved, and prints per-turn latency.

The services follow the contract in demos/README.md; the artifacts are built
by `make -C demos build` (which `make demo` runs first).

Only the standard library is used, so any Python 3.9+ runs this file.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PYTHON = ROOT / "demos" / ".venv" / "bin" / "python"
sys.path.insert(0, str(ROOT / "demos" / "jaeger"))

import jaeger  # noqa: E402  (beside the demo, not a package)

# What each service runs; `make -C demos build` produces all of it.
ARTIFACTS: Dict[str, List[object]] = {
    "collector": [TARGET / "debug" / "collector"],
    "gateway": [TARGET / "debug" / "gateway"],
    "asr": [TARGET / "demo" / "asr"],
    "llm": ["java", "-jar", HERE / "llm" / "target" / "llm.jar"],
    "tts": [PYTHON, HERE / "python" / "tts.py"],
    "archive": [PYTHON, HERE / "python" / "archive.py"],
    "device": [PYTHON, HERE / "python" / "device.py"],
}

# AGENT=1 (`make demo AGENT=1`): a service that has a version without
# tracewire code runs it under its language's zero-code instrumentation.
# tts: a plain FastAPI app under opentelemetry-instrument, which loads the
# tracewire wheel's instrumentors (its model: OTEL_PYTHON_TRACEWIRE_MODEL).
# llm: a plain Jakarta endpoint (LlmPlain) under the OpenTelemetry Java agent
# with tracewire's extension (its model: OTEL_INSTRUMENTATION_TRACEWIRE_MODEL);
# both jars come from the bindings-java build that `make -C demos build` runs.
if os.environ.get("AGENT") == "1":
    ARTIFACTS["tts"] = [PYTHON.parent / "opentelemetry-instrument", PYTHON, HERE / "python" / "tts_plain.py"]
    BINDINGS_JAVA = ROOT / "bindings-java"
    ARTIFACTS["llm"] = [
        "java", f"-javaagent:{BINDINGS_JAVA / 'target' / 'agent' / 'opentelemetry-javaagent.jar'}",
        f"-Dotel.javaagent.extensions={BINDINGS_JAVA / 'javaagent' / 'target' / 'tracewire-javaagent-extension-0.1.0.jar'}",
        "-cp", HERE / "llm" / "target" / "llm.jar", "dev.tracewire.demo.llm.LlmPlain",
    ]

# The queue between the gateway and the archive worker: Debian's package.
REDIS_SERVER = "redis-server"
REDIS_MISSING = (
    "redis-server is not installed; the demo queues each turn through Redis."
    " Install it with `sudo apt-get install redis-server` (Debian, Ubuntu; the"
    " CI script .ci/run does this) or your system's package manager"
)
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

# DEVICE=browser (`make demo DEVICE=browser`): the device is a page in
# headless Chromium (browser/device.mjs, built by `make -C demos
# build-browser`): the tracewire npm package over the browser's WebSocket,
# its spans exported by the OpenTelemetry web SDK (language webjs).
if os.environ.get("DEVICE") == "browser":
    ARTIFACTS["device"] = ["node", HERE / "browser" / "device.mjs"]


class DemoError(Exception):
    """A service failed; the message says which one and why."""


class Service:
    """One child process, in its own process group, with its output followed.

    A server's first stdout line is `READY <url>`; later stdout lines go to
    `on_line`. The last stderr lines are kept to explain a failure, and shown
    as they come when `echo_stderr` is set.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[object],
        env: Dict[str, str],
        *,
        server: bool,
        on_line: Callable[[str], None],
        echo_stderr: bool,
    ) -> None:
        self.name = name
        self.url: Optional[str] = None
        self._server = server
        self._on_line = on_line
        self._echo_stderr = echo_stderr
        self._ready = threading.Event()
        self._stderr_tail: Deque[str] = collections.deque(maxlen=30)
        try:
            self.proc = subprocess.Popen(
                [str(a) for a in argv],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        except OSError as exc:
            raise DemoError(f"{name}: cannot start {argv[0]}: {exc}") from exc
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if self._server and self.url is None and line.startswith("READY "):
                self.url = line[len("READY ") :].strip()
                self._ready.set()
            else:
                self._on_line(line)
        self._ready.set()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self._stderr_tail.append(line)
            if self._echo_stderr:
                print(f"[{self.name}] {line}", file=sys.stderr, flush=True)

    def stderr_lines(self) -> List[str]:
        """The last stderr lines (what `why` shows)."""
        return list(self._stderr_tail)

    def why(self) -> str:
        """The exit status and the last stderr lines, for an error message."""
        code = self.proc.poll()
        status = "is still running" if code is None else f"exited with code {code}"
        tail = "\n".join(f"    {line}" for line in self._stderr_tail)
        return f"{self.name} {status}" + (f"; its last output:\n{tail}" if tail else "")

    def wait_ready(self, timeout: float) -> str:
        """The URL from the READY line; DemoError if the service dies or hangs."""
        if not self._ready.wait(timeout) or self.url is None:
            exited = self.proc.poll() is not None
            self.join_output(1.0)
            if exited:
                raise DemoError(f"{self.why()}\n  ({self.name} stopped before it was ready)")
            raise DemoError(f"{self.why()}\n  ({self.name} did not report READY within {timeout:.0f} s)")
        return self.url

    def join_output(self, timeout: float) -> None:
        for reader in self._readers:
            reader.join(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> Optional[str]:
        """SIGTERM, then SIGKILL after `timeout`; a problem report, or None."""
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc, signal.SIGKILL)
                self.proc.wait()
                self.join_output(1.0)
                return f"{self.name} did not stop within {timeout:.0f} s of SIGTERM and was killed"
        self.join_output(5.0)
        if self.proc.returncode != 0:
            return self.why()
        return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGKILL)
            self.proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def check_artifacts() -> None:
    missing = [
        str(part)
        for argv in ARTIFACTS.values()
        for part in argv
        if isinstance(part, Path) and not part.exists()
    ]
    if missing:
        raise DemoError(
            "not built: " + ", ".join(missing) + "\n  (run `make -C demos build`, or `make demo`)"
        )
    if shutil.which(REDIS_SERVER) is None:
        raise DemoError(REDIS_MISSING)


def free_port() -> int:
    """A TCP port free on loopback now (for a server that cannot pick its own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(port: int) -> bool:
    """Whether a Redis on loopback `port` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class Run:
    """One pipeline run: start everything, run the device, stop everything."""

    def __init__(self, args: argparse.Namespace, *, tracing: bool, out: Optional[Path]) -> None:
        self.args = args
        self.tracing = tracing
        self.out = out
        self.services: List[Service] = []
        self.endpoint: Optional[str] = None
        self.turns: List[dict] = []
        self.waterfall: List[str] = []
        self.jaeger: Optional[jaeger.Jaeger] = None
        # The local receiver, when this run started one.
        self.collector: Optional[Service] = None
        # How long the receiver may take to write its file once stopped.
        self.collector_stop_timeout_s = STOP_TIMEOUT_S
        self.started = time.time()
        # Redis's working directory (empty: nothing is persisted).
        self.redis_dir: Optional[tempfile.TemporaryDirectory] = None

    def _env(self, service: str) -> Dict[str, str]:
        env = dict(os.environ)
        env["OTEL_SERVICE_NAME"] = service
        env["TRACEWIRE_MODEL"] = self.args.model
        env["OTEL_PYTHON_TRACEWIRE_MODEL"] = self.args.model  # the instrumentors' (AGENT=1)
        env["OTEL_INSTRUMENTATION_TRACEWIRE_MODEL"] = self.args.model  # the Java agent extension's (AGENT=1)
        env["DEMO_PACE"] = str(self.args.pace)
        if self.endpoint is not None:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.endpoint
        env.setdefault("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        if not self.tracing:
            env["OTEL_SDK_DISABLED"] = "true"
        return env

    def _start(self, name: str, extra: Sequence[object] = (), *, server: bool = True,
               env: Optional[Dict[str, str]] = None,
               on_line: Optional[Callable[[str], None]] = None) -> Service:
        service = Service(
            name,
            [*ARTIFACTS[name], *extra],
            env if env is not None else self._env(name),
            server=server,
            on_line=on_line or (lambda line: print(f"[{name}] {line}", file=sys.stderr)),
            echo_stderr=self.args.verbose,
        )
        self.services.append(service)
        return service

    def _start_redis(self) -> str:
        """Starts a Redis on a free loopback port; its HOST:PORT once it
        answers."""
        self.redis_dir = tempfile.TemporaryDirectory(prefix="tracewire-redis-")
        port = free_port()
        redis = Service(
            "redis",
            [REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.redis_dir.name],
            dict(os.environ),
            server=False,
            # Its log goes to stdout; shown with --verbose only.
            on_line=(lambda line: print(f"[redis] {line}", file=sys.stderr)) if self.args.verbose else (lambda line: None),
            echo_stderr=self.args.verbose,
        )
        self.services.append(redis)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not redis_answers(port):
            if redis.proc.poll() is not None:
                redis.join_output(1.0)
                raise DemoError(f"{redis.why()}\n  (redis stopped before it answered)")
            if time.monotonic() > deadline:
                raise DemoError(f"redis did not answer on port {port} within {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        return f"127.0.0.1:{port}"

    def _on_device_line(self, line: str) -> None:
        if line.startswith("TURN "):
            self.turns.append(json.loads(line[len("TURN ") :]))
        elif line:
            print(f"[device] {line}", file=sys.stderr)

    def execute(self) -> None:
        try:
            if self.tracing and self.args.backend == "jaeger":
                self.jaeger = jaeger.Jaeger()
                self.jaeger.wait_ready()
                self.endpoint = self.jaeger.otlp_endpoint
                # Jaeger holds the spans; a receiver's file from an earlier run is stale.
                self.out = None
            elif self.tracing and "OTEL_EXPORTER_OTLP_ENDPOINT" not in os.environ:
                argv: List[object] = ["--listen", "127.0.0.1:0"]
                if self.out is not None:
                    argv += ["--out", self.out]
                if self.args.quiet:
                    argv.append("--quiet")
                self.collector = self._start("collector", argv, env=dict(os.environ),
                                             on_line=self.waterfall.append)
                self.endpoint = self.collector.wait_ready(READY_TIMEOUT_S)
            else:
                # Another backend holds the spans; a file left by an earlier run is stale.
                self.out = None
            redis = self._start_redis()
            upstream = {name: self._start(name) for name in ("asr", "llm", "tts")}
            archive = self._start("archive", ["--redis", redis])
            urls = {name: s.wait_ready(READY_TIMEOUT_S) for name, s in upstream.items()}
            archive.wait_ready(READY_TIMEOUT_S)
            gateway = self._start(
                "gateway",
                ["--asr", urls["asr"], "--llm", urls["llm"], "--tts", urls["tts"], "--redis", redis],
            )
            voice = gateway.wait_ready(READY_TIMEOUT_S)
            device = self._start(
                "device", ["--url", voice, "--turns", self.args.turns],
                server=False, on_line=self._on_device_line,
            )
            self._watch(device)
            # The device has flushed its spans; now the servers, which flush
            # theirs on SIGTERM (the gateway, their client, first; then the
            # archive worker, which first works off what the gateway queued;
            # Redis after it), and last the receiver, which writes the file.
            problems = [p for s in reversed(self.services) if s not in (device, self.collector)
                        if (p := s.stop()) is not None]
            if self.collector is not None:
                problem = self.collector.stop(self.collector_stop_timeout_s)
                if problem is not None:
                    problems.append(problem)
            if problems:
                raise DemoError("\n".join(problems))
        except jaeger.JaegerError as exc:
            raise DemoError(str(exc)) from None
        finally:
            for service in [*self.services, self.collector]:
                if service is not None:
                    service.kill()
            if self.redis_dir is not None:
                self.redis_dir.cleanup()

    def stop_backend(self) -> None:
        if self.jaeger is not None:
            self.jaeger.stop()

    def _watch(self, device: Service) -> None:
        deadline = time.monotonic() + self.args.timeout
        while device.proc.poll() is None:
            for service in self.services:
                if service is not device and service.proc.poll() is not None:
                    service.join_output(1.0)
                    raise DemoError(f"{service.why()}\n  (it died while the device was running)")
            if time.monotonic() > deadline:
                raise DemoError(f"the device did not finish within {self.args.timeout:.0f} s")
            time.sleep(0.05)
        device.join_output(5.0)
        if device.proc.returncode != 0:
            raise DemoError(device.why())
        if len(self.turns) != self.expected_turns():
            raise DemoError(f"the device reported {len(self.turns)} of {self.expected_turns()} turns")

    def expected_turns(self) -> int:
        """The TURN lines a successful device prints."""
        return self.args.turns


def summary(run: Run) -> str:
    """One line: traces, services and languages, spans, perceived latency."""
    firsts = [t["time_to_first_audio_s"] * 1e3 for t in run.turns]
    latency = (
        f"perceived time to first audio {statistics.mean(firsts):.0f} ms mean"
        f" ({', '.join(f'{v:.0f}' for v in firsts)} ms per turn)"
    )
    if run.out is None or not run.out.exists():
        trace_ids = list(dict.fromkeys(t["trace_id"] for t in run.turns if t["trace_id"]))
        traced = f" in trace{'s' * (len(trace_ids) != 1)} {', '.join(trace_ids)}" if trace_ids else ""
        return f"{len(run.turns)} turns{traced}; {latency}"
    traces = json.loads(run.out.read_text())["traces"]
    spans = [span for trace in traces for span in trace["spans"]]
    services = sorted({(s["service"], s["language"]) for s in spans})
    languages = sorted({language for _, language in services})
    return (
        f"{len(traces)} trace{'s' * (len(traces) != 1)}, {len(services)} services"
        f" ({', '.join(f'{s}/{l}' for s, l in services)}), {len(languages)} languages,"
        f" {len(spans)} spans, {len(run.turns)} turns; {latency}"
    )


def jaeger_summary(run: Run) -> str:
    """What Jaeger holds of each turn's trace, read back through its query
    API, and where a person finds it: the device's trace, and the gateway's
    traces that link to it (the gateway does not trust the device as a
    parent; its one-span traces of single messages are left out)."""
    assert run.jaeger is not None
    backend = run.jaeger

    def describe(trace_id: str, spans: List[dict]) -> str:
        ids = {s["span_id"] for s in spans}
        orphans = sum(1 for s in spans if s["parent_span_id"] and s["parent_span_id"] not in ids)
        services = sorted({s["service"] for s in spans})
        languages = sorted({s["language"] for s in spans})
        return (
            f"trace {trace_id}: {len(spans)} spans, {len(services)} services ({', '.join(services)}),"
            f" {len(languages)} languages ({', '.join(languages)}), {orphans} without their parent\n"
            f"  {backend.query_url}/api/v3/traces/{trace_id}"
        )

    device_traces = list(dict.fromkeys(t["trace_id"] for t in run.turns if t["trace_id"]))
    spans_of = {trace_id: backend.wait_for_spans(trace_id, 1) for trace_id in device_traces}
    gateway = backend.all_traces(["gateway"], run.started)
    lines = []
    for trace_id in device_traces:
        lines.append(describe(trace_id, spans_of[trace_id]))
        for linked in gateway:
            links = [link for s in linked["spans"] for link in s["links"]]
            if len(linked["spans"]) > 1 and any(link["trace_id"] == trace_id for link in links):
                spans = backend.wait_for_spans(linked["trace_id"], len(linked["spans"]))
                lines.append("linked from " + describe(linked["trace_id"], spans))
    return "\n".join(lines)


def demo(args: argparse.Namespace) -> None:
    out = Path(args.out).resolve() if args.out else None
    run = Run(args, tracing=True, out=out)
    try:
        run.execute()
        if run.jaeger is not None:
            print(jaeger_summary(run))
            if args.keep_backend:
                print(f"jaeger keeps running (pid {run.jaeger.proc.pid}); its query API: {run.jaeger.query_url}/api/services")
                run.jaeger = None
        elif not args.quiet:
            print("\n".join(run.waterfall))
        print(summary(run))
        if run.out is not None and run.out.with_suffix(".html").exists():
            # The receiver writes its HTML trace view beside the file.
            print(f"trace view: {run.out.with_suffix('.html')}")
    finally:
        run.stop_backend()


def bench(args: argparse.Namespace) -> None:
    """Per-turn latency with tracing on and off, interleaved rounds."""
    print(
        f"voice assistant, per-turn latency (turn.start sent -> turn.done received),"
        f" model={args.model}, {args.rounds} rounds x {args.turns} turns, tracing on/off interleaved"
    )
    args.quiet = True
    for pace in args.paces:
        args.pace = pace
        latency: Dict[bool, List[float]] = {True: [], False: []}
        first: Dict[bool, List[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for tracing in (True, False):
                run = Run(args, tracing=tracing, out=None)
                try:
                    run.execute()
                finally:
                    run.stop_backend()
                latency[tracing] += [t["latency_s"] * 1e3 for t in run.turns]
                first[tracing] += [t["time_to_first_audio_s"] * 1e3 for t in run.turns]
        on, off = statistics.median(latency[True]), statistics.median(latency[False])
        f_on, f_off = statistics.median(first[True]), statistics.median(first[False])
        print(
            f"  pace {pace:g}: turn latency median tracing on {on:8.1f} ms, off {off:8.1f} ms,"
            f" ratio {on / off:.3f} | time to first audio on {f_on:7.1f} ms, off {f_off:7.1f} ms,"
            f" ratio {f_on / f_off:.3f}"
        )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("connection", "message"),
                        default=os.environ.get("MODEL") or "connection")
    parser.add_argument("--backend", choices=("receiver", "jaeger"),
                        default=os.environ.get("BACKEND") or "receiver",
                        help="where the spans go: the demo's receiver (default; or"
                             " OTEL_EXPORTER_OTLP_ENDPOINT when set) or a Jaeger started here")
    parser.add_argument("--keep-backend", action="store_true",
                        help="leave the Jaeger running after the demo")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--pace", type=float, default=1.0,
                        help="multiplies every simulated delay (0: none)")
    parser.add_argument("--out", default=str(TARGET / "demo" / "traces.json"),
                        help="where the local receiver writes the traces (and, with the"
                             " extension .html, the HTML trace view)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds the device may take")
    parser.add_argument("--quiet", action="store_true", help="no waterfall")
    parser.add_argument("--verbose", action="store_true", help="show every service's log")
    parser.add_argument("--bench", action="store_true",
                        help="per-turn latency, tracing on vs off")
    parser.add_argument("--rounds", type=int, default=3, help="bench rounds")
    parser.add_argument("--paces", type=float, nargs="+", default=[1.0, 0.0],
                        help="bench paces")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")

    # Stop the children on SIGTERM as on Ctrl-C (both unwind through `finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        check_artifacts()
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        (bench if args.bench else demo)(args)
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo interrupted; every service it started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
