#!/usr/bin/env python3
"""Load test of the voice assistant: many device sessions at once through the
gateway to asr, llm and tts on loopback, with tracing on and off.

Each run starts the receiver (tracing on) and the services as `run.py` does,
then one device process running `--sessions` sessions of `--turns` turns at
once. It prints, per run: sessions and turns completed, lost turns (a turn
that did not complete, or whose audio chunk count differs from what the
gateway announced: must be 0), p50/p99 turn latency (turn.start sent to
turn.done received), the RSS of each service before the sessions start and
after they end, and with tracing on the spans the receiver got against the
spans expected (one session's span count, from a one-session calibration
run, times the sessions) and the spans whose parent is missing (must be 0).
The last line gives the latency ratios, tracing on / off.

`--kill-receiver S` adds a third run, tracing on: once the sessions are
under way the receiver is killed (SIGKILL), left down for S seconds and
started again on the same port. The services must keep serving with the
same latency; the spans exported while it was down are lost and each
service counts its failed exports (printed at exit, shown here).

The services' batch span queues are sized for the burst
(`OTEL_BSP_MAX_QUEUE_SIZE`, 65536 unless set): a thousand sessions starting
at once end spans faster than one exporter sends them, and the SDKs' default
queue of 2048 drops the rest. The Rust, Python and Go services count what
their queues dropped (printed at exit, shown here), so a queue too small
shows as a count, not only as missing spans and orphans.

Bounded: every run has `--timeout`; every process is stopped afterwards.

    python load.py [--sessions 1000] [--turns 1] [--pace 0.25] [--kill-receiver 10]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import run
from run import DemoError, Run, Service

# Services whose memory is reported (the receiver is the test's, not the system's).
MEASURED = ("gateway", "asr", "llm", "tts")
# A service's report of failed exports, e.g. "asr: 12 span exports failed",
# "3 of 40 traces exports failed" or "3 of 40 traces exports to URL failed".
FAILED_EXPORTS = re.compile(r"(\d+)( of \d+)? (span|traces|metrics) exports( to \S+)? failed")
# A service's report of spans its batch queue dropped, e.g. "asr: 12 of 4000
# spans never reached an export".
SPANS_NOT_EXPORTED = re.compile(r"(\d+) of \d+ spans never reached an export")


def rss_mib(pid: int) -> Optional[float]:
    """Resident memory of a process, in MiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank, as docs/PROTOCOL.md section 9 defines it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class LoadRun(Run):
    """A Run whose device speaks many sessions; it samples each service's
    RSS around them and can take the receiver down in the middle."""

    def __init__(self, args: argparse.Namespace, *, tracing: bool, out: Optional[Path],
                 sessions: int, kill_receiver_s: float = 0.0) -> None:
        super().__init__(args, tracing=tracing, out=out)
        self.sessions = sessions
        self.kill_receiver_s = kill_receiver_s
        self.failed: List[dict] = []
        self.rss_before: Dict[str, Optional[float]] = {}
        self.rss_after: Dict[str, Optional[float]] = {}
        self.failed_exports: Dict[str, int] = {}
        self.spans_not_exported: Dict[str, int] = {}
        # Writing a file of a few hundred thousand spans takes longer than
        # the demo's few hundred.
        self.collector_stop_timeout_s = 300.0

    def _start(self, name: str, extra: Sequence[object] = (), **kw) -> Service:  # type: ignore[override]
        if name == "device":
            # Under load a session waits its turn rather than failing after
            # the demo's 30 s without progress: a session that fails is lost.
            extra = [*extra, "--sessions", self.sessions, "--stall-timeout", self.args.timeout]
        return super()._start(name, extra, **kw)

    def _on_device_line(self, line: str) -> None:
        if line.startswith("FAILED "):
            self.failed.append(json.loads(line[len("FAILED ") :]))
        else:
            super()._on_device_line(line)

    def expected_turns(self) -> int:
        return self.sessions * self.args.turns

    def _measured(self) -> Dict[str, Service]:
        return {s.name: s for s in self.services if s.name in MEASURED}

    def _watch(self, device: Service) -> None:
        self.rss_before = {n: rss_mib(s.proc.pid) for n, s in self._measured().items()}
        interruption = None
        if self.kill_receiver_s > 0:
            interruption = threading.Thread(target=self._interrupt_receiver, args=(device,), daemon=True)
            interruption.start()
        try:
            super()._watch(device)
        except DemoError:
            # A session that failed is counted as lost; anything else is fatal.
            if not self.failed:
                raise
        finally:
            if interruption is not None:
                interruption.join()
        self.rss_after = {n: rss_mib(s.proc.pid) for n, s in self._measured().items()}

    def _interrupt_receiver(self, device: Service) -> None:
        """Kills the receiver once a tenth of the turns completed (or after
        a few seconds), and starts a new one on the same port after
        `kill_receiver_s`; the device keeps running meanwhile."""
        collector = self.collector
        assert collector is not None and self.endpoint is not None
        deadline = time.monotonic() + 5.0
        while len(self.turns) < self.sessions // 10 and time.monotonic() < deadline:
            if device.proc.poll() is not None:
                return
            time.sleep(0.05)
        # Out of the list `_watch` checks for dead services first.
        self.services = [s for s in self.services if s is not collector]
        time.sleep(0.2)
        collector.kill()
        print(f"  receiver killed after {len(self.turns)} turns; down for {self.kill_receiver_s:g} s",
              file=sys.stderr)
        time.sleep(self.kill_receiver_s)
        port = self.endpoint.rsplit(":", 1)[1]
        argv = [*run.ARTIFACTS["collector"], "--listen", f"127.0.0.1:{port}", "--quiet"]
        if self.out is not None:
            argv += ["--out", self.out]
        # `execute` stops it after the services' final flush, as the first one.
        self.collector = Service("collector", argv, dict(os.environ), server=True,
                                 on_line=lambda line: None, echo_stderr=self.args.verbose)
        self.collector.wait_ready(run.READY_TIMEOUT_S)
        print(f"  receiver back on port {port} after {len(self.turns)} turns", file=sys.stderr)

    def execute(self) -> None:
        super().execute()
        for service in self.services:
            for line in service.stderr_lines():
                for pattern, counts in ((FAILED_EXPORTS, self.failed_exports),
                                        (SPANS_NOT_EXPORTED, self.spans_not_exported)):
                    if m := pattern.search(line):
                        counts[service.name] = counts.get(service.name, 0) + int(m.group(1))


def spans_and_orphans(path: Path) -> tuple:
    traces = json.loads(path.read_text())["traces"]
    spans = [s for t in traces for s in t["spans"]]
    ids = {s["span_id"] for s in spans}
    orphans = sum(1 for s in spans if s["parent_span_id"] is not None and s["parent_span_id"] not in ids)
    return len(spans), orphans


def load_run(args: argparse.Namespace, *, tracing: bool, sessions: int, kill_receiver_s: float = 0.0) -> LoadRun:
    out = run.TARGET / "load" / f"traces-{'on' if tracing else 'off'}-{sessions}.json" if tracing else None
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
    r = LoadRun(args, tracing=tracing, out=out, sessions=sessions, kill_receiver_s=kill_receiver_s)
    started = time.monotonic()
    r.execute()
    r.elapsed_s = time.monotonic() - started  # type: ignore[attr-defined]
    return r


def report(label: str, r: LoadRun, expected_turns: int, spans_per_session: Optional[int]) -> List[float]:
    """Prints one run's figures; returns its latencies in ms."""
    latencies = [t["latency_s"] * 1e3 for t in r.turns]
    lost = expected_turns - len(r.turns)
    print(f"{label}: {len(r.turns)}/{expected_turns} turns in {r.elapsed_s:.1f} s,"  # type: ignore[attr-defined]
          f" lost {lost}, failed sessions {len(r.failed)}")
    if r.failed:
        print(f"  first failure: {r.failed[0]['error']}")
    if latencies:
        print(f"  turn latency p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")
    memory = ", ".join(
        f"{n} {r.rss_before.get(n) or 0:.0f} -> {r.rss_after.get(n) or 0:.0f}" for n in MEASURED
    )
    print(f"  RSS MiB before -> after: {memory}")
    if r.tracing and r.out is not None and r.out.exists():
        received, orphans = spans_and_orphans(r.out)
        expected = f"{spans_per_session * r.sessions}" if spans_per_session else "?"
        print(f"  spans received {received}, expected {expected}, without their parent {orphans}")
    if r.failed_exports:
        print("  failed exports counted by the services: "
              + ", ".join(f"{n} {c}" for n, c in sorted(r.failed_exports.items())))
    if r.spans_not_exported:
        print("  spans dropped from full batch queues, counted by the services: "
              + ", ".join(f"{n} {c}" for n, c in sorted(r.spans_not_exported.items())))
    return latencies


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=1)
    parser.add_argument("--pace", type=float, default=0.25, help="multiplies every simulated delay")
    parser.add_argument("--model", choices=("connection", "message"), default="connection")
    parser.add_argument("--kill-receiver", type=float, default=0.0, metavar="S",
                        help="a third run with the receiver down for S seconds mid-run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each run may take")
    parser.add_argument("--verbose", action="store_true", help="show every service's log")
    args = parser.parse_args(argv)
    if args.sessions < 1 or args.turns < 1:
        parser.error("--sessions and --turns must be at least 1")
    # What Run reads besides these.
    args.backend, args.quiet = "receiver", True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("OTEL_BSP_MAX_QUEUE_SIZE", "65536")
    try:
        run.check_artifacts()
        print(f"voice assistant load: {args.sessions} sessions x {args.turns} turns at once,"
              f" model={args.model}, pace {args.pace:g}")
        calibration = load_run(args, tracing=True, sessions=1)
        assert calibration.out is not None
        per_session, _ = spans_and_orphans(calibration.out)
        expected_turns = args.sessions * args.turns
        on = report("tracing on", load_run(args, tracing=True, sessions=args.sessions),
                    expected_turns, per_session)
        off = report("tracing off", load_run(args, tracing=False, sessions=args.sessions),
                     expected_turns, None)
        if on and off:
            print(f"latency on/off: p50 {percentile(on, 50) / percentile(off, 50):.3f},"
                  f" p99 {percentile(on, 99) / percentile(off, 99):.3f}")
        if args.kill_receiver > 0:
            down = report(f"tracing on, receiver down {args.kill_receiver:g} s",
                          load_run(args, tracing=True, sessions=args.sessions,
                                   kill_receiver_s=args.kill_receiver),
                          expected_turns, per_session)
            if down and on:
                print(f"latency receiver-down/normal: p50 {percentile(down, 50) / percentile(on, 50):.3f},"
                      f" p99 {percentile(down, 99) / percentile(on, 99):.3f}")
    except DemoError as exc:
        print(f"load failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("load interrupted; every service it started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
