"""archive: the voice assistant's archive worker (Python, a Redis consumer).

At the end of each turn the gateway pushes a job onto the Redis list
``voice-assistant.archive`` (``LPUSH``); this worker pops the jobs
(``BRPOP``) and archives each turn in the Redis hash
``voice-assistant.archive.turns``: field ``<session>/<turn>``, a JSON record
of the transcript, the answer and their word counts.

Each job is processed in a ``process voice-assistant.archive`` CONSUMER span.
The job carries the context of the gateway's ``send`` span as tracewire's
queue carrier (hex): that context is the span's parent, and the span links to
it as well (the messaging conventions' correlation for a consumer), so the
archiving shows up in the turn's trace. A job that cannot be read is logged
and processed as an error span of its own; the worker goes on.

    python archive.py --redis 127.0.0.1:6379

It prints ``READY redis://HOST:PORT/voice-assistant.archive`` once Redis
answers; on SIGTERM or SIGINT it processes the jobs already queued, then
stops. The rest of the contract (environment, errors, stopping) is in
demos/README.md.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import redis
import tracewire
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

import service

NAME = "archive"
QUEUE = "voice-assistant.archive"
ARCHIVE = "voice-assistant.archive.turns"
SPAN_NAME = f"process {QUEUE}"
# How long one BRPOP blocks: the most a stop request waits to be noticed.
POLL_S = 0.5

log = logging.getLogger(NAME)


class BadJob(ValueError):
    """A job that is not what the gateway sends; the message says why."""


@dataclass(frozen=True)
class Job:
    """One finished turn, as the gateway queued it."""

    session: str
    turn: int
    transcript: str
    answer: str
    carrier: bytes

    @classmethod
    def parse(cls, raw: bytes) -> "Job":
        """Reads a job's JSON; raises :class:`BadJob`."""
        try:
            body = json.loads(raw)
        except ValueError:
            raise BadJob(f"not JSON: {raw[:80]!r}") from None
        if not isinstance(body, dict):
            raise BadJob(f"not a JSON object: {raw[:80]!r}")
        expected = {"session": str, "turn": int, "transcript": str, "answer": str, "carrier": str}
        for key, kind in expected.items():
            if not isinstance(body.get(key), kind):
                raise BadJob(f"{key!r} is missing or not a {kind.__name__}")
        try:
            carrier = bytes.fromhex(body["carrier"])
        except ValueError:
            raise BadJob("'carrier' is not hex") from None
        return cls(body["session"], body["turn"], body["transcript"], body["answer"], carrier)


class Worker:
    """Pops and processes jobs from one Redis."""

    def __init__(self, client: "redis.Redis[bytes]", host: str, port: int) -> None:
        self._client = client
        self._tracer = trace.get_tracer(NAME)
        self._attributes: Dict[str, Any] = {
            "messaging.system": "redis",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": QUEUE,
            "server.address": host,
            "server.port": port,
        }

    def run(self, stop: threading.Event) -> None:
        """Processes jobs as they come until ``stop`` is set, then the jobs
        still queued, and returns."""
        while not stop.is_set():
            popped = self._client.brpop([QUEUE], timeout=POLL_S)
            if popped is not None:
                self.process(popped[1])
        while (raw := self._client.rpop(QUEUE)) is not None:
            self.process(raw)

    def process(self, raw: bytes) -> None:
        """Archives one job inside its ``process`` span."""
        attributes = {**self._attributes, "messaging.message.body.size": len(raw)}
        try:
            job = Job.parse(raw)
            creation = tracewire.restore(job.carrier)
        except (BadJob, tracewire.InvalidEnvelopeError) as exc:
            log.warning("ignored a job that cannot be read: %s", exc)
            with self._tracer.start_as_current_span(
                SPAN_NAME, kind=SpanKind.CONSUMER, attributes=attributes, record_exception=False,
                set_status_on_exception=False,
            ) as span:
                span.set_attribute("error.type", type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
            return
        sent = trace.get_current_span(creation).get_span_context()
        links = [Link(sent)] if sent.is_valid else []
        with self._tracer.start_as_current_span(
            SPAN_NAME, context=creation, kind=SpanKind.CONSUMER, links=links,
            attributes={**attributes, "demo.turn": job.turn},
        ):
            record = {
                "transcript": job.transcript,
                "answer": job.answer,
                "transcript_words": len(job.transcript.split()),
                "answer_words": len(job.answer.split()),
            }
            self._client.hset(ARCHIVE, f"{job.session}/{job.turn}", json.dumps(record, sort_keys=True))


def _address(value: str) -> "tuple[str, int]":
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--redis {value!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the worker; returns the exit code."""
    parser = service.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis", required=True, help="where Redis listens, HOST:PORT")
    args = parser.parse_args(argv)
    service.configure_logging(NAME)
    try:
        host, port = _address(args.redis)
    except ValueError as exc:
        return service.fail(NAME, str(exc), 2)
    stop = _stop_on_signals()
    try:
        tracing = service.setup_tracing(NAME)
    except service.StartupError as exc:
        return service.fail(NAME, str(exc), 2)
    client: "redis.Redis[bytes]" = redis.Redis(host=host, port=port, socket_connect_timeout=2.0)
    try:
        client.ping()
        service.print_ready(f"redis://{args.redis}/{QUEUE}")
        Worker(client, host, port).run(stop)
    except redis.RedisError as exc:
        return service.fail(NAME, f"redis at {args.redis}: {exc}")
    finally:
        client.close()
        tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
