"""device: the voice assistant's user end (Python, websockets client).

Connects to the gateway's ``/voice`` and speaks a few turns, one after
another: per turn ``turn.start``, 25 chunks of synthetic speech (one every
20 ms x pace) and ``turn.end``; then plays the streamed answer until
``turn.done``. Prints one line per turn to stdout,

    TURN {"turn": 1, "latency_s": ..., "time_to_first_audio_s": ...,
          "time_to_last_audio_s": ..., "audio_chunks": 36, "trace_id": "..."}

closes with 1000 after the last turn and exits 0. Any failure (connection,
protocol, no progress for 30 s) is one line on stderr and exit 1.

    python device.py --url ws://127.0.0.1:PORT/voice [--turns 3] [--sessions 1]

With ``--sessions N`` (the load test, ``make load``) N sessions run at once,
started ``--ramp-ms`` apart; their TURN lines carry ``"session"``, a session
that fails prints ``FAILED {"session": i, "error": "..."}`` on stdout while
the others go on, and the exit code is 1 if any failed.

The contract (messages, spans, environment) is in demos/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any, Awaitable, Dict, List, Optional, TextIO, TypeVar, Union

import tracewire
import tracewire.ws
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from websockets.exceptions import ConnectionClosed, WebSocketException

import service
from service import Settings

NAME = "device"
UTTERANCE_CHUNKS = 25
CHUNK_INTERVAL_S = 0.020
# Without progress (a message sent or received) for this long, give up.
STALL_TIMEOUT_S = 30.0
# Baggage the device sends with the handshake and every turn, as an app on a
# phone might. The gateway does not trust the device, so this must reach
# neither the gateway's handlers nor any upstream service.
USER_BAGGAGE = ("user.id", "u-42")

T = TypeVar("T")


class DeviceError(Exception):
    """The session failed; the message says why, in one line."""


class ProtocolError(DeviceError):
    """The gateway sent something the contract does not allow."""


class Device:
    """One session with the gateway: speaks turns on a connected
    :class:`tracewire.ws.TracedConnection`."""

    def __init__(
        self,
        conn: tracewire.ws.TracedConnection,
        settings: Settings,
        stall_timeout_s: float = STALL_TIMEOUT_S,
    ) -> None:
        self._conn = conn
        self._settings = settings
        self._stall_timeout_s = stall_timeout_s
        self._tracer = trace.get_tracer(NAME)
        self._instruments = tracewire.StreamInstruments(kind="generic")

    def _turn_parent(self) -> Context:
        """Connection model: the session's trace (the ``connect`` span).
        Message model: no parent, each turn is a trace of its own. Both with
        the user's baggage."""
        span = self._conn.connection_span
        with_user = baggage.set_baggage(*USER_BAGGAGE, context=Context())
        if self._settings.model == "message" or span is None:
            return with_user
        return trace.set_span_in_context(span, with_user)

    async def _progress(self, step: Awaitable[T]) -> T:
        """Awaits one send or receive, at most the stall timeout."""
        try:
            return await asyncio.wait_for(step, self._stall_timeout_s)
        except asyncio.TimeoutError:
            raise DeviceError(f"no progress for {self._stall_timeout_s:g} s") from None

    async def _send(self, message: Union[str, bytes]) -> None:
        await self._progress(self._conn.send(message))

    async def speak(self, turn: int) -> Dict[str, Any]:
        """Runs turn ``turn`` (from 1) under a ``turn`` span; returns the
        TURN line's values."""
        # Attached, not passed as the span's parent only: the sends below
        # carry the current context's baggage.
        token = otel_context.attach(self._turn_parent())
        try:
            return await self._speak(turn)
        finally:
            otel_context.detach(token)

    async def _speak(self, turn: int) -> Dict[str, Any]:
        # demo.baggage: what the device sends along (the cross-language test
        # checks it reaches nothing past the gateway's edge).
        attributes = {"demo.turn": turn, "demo.baggage": ",".join(sorted(baggage.get_all()))}
        with self._tracer.start_as_current_span("turn", attributes=attributes) as span:
            started = time.monotonic()
            await self._send(json.dumps({"type": "turn.start", "turn": turn}))
            loop = asyncio.get_running_loop()
            # Like a microphone: each chunk goes out once its 20 ms are recorded.
            recording = loop.time()
            for index in range(UTTERANCE_CHUNKS):
                await service.sleep_until(recording + self._settings.delay(CHUNK_INTERVAL_S * (index + 1)))
                await self._send(service.tone_chunk(index))
            await self._send(json.dumps({"type": "turn.end", "turn": turn, "chunks": UTTERANCE_CHUNKS}))
            with tracewire.StreamSpan("answer audio", self._instruments, attributes={"demo.turn": turn}) as answer:
                announced = await self._play_answer(turn, answer)
                latency_s = time.monotonic() - started
                snapshot = answer.metrics.snapshot()
                if announced != snapshot.chunk_count:
                    raise ProtocolError(
                        f"turn {turn}: turn.done says {announced} audio chunks, {snapshot.chunk_count} arrived"
                    )
            span_context = span.get_span_context()
        return {
            "turn": turn,
            "latency_s": latency_s,
            "time_to_first_audio_s": snapshot.time_to_first_chunk,
            "time_to_last_audio_s": snapshot.time_to_last_chunk,
            "audio_chunks": snapshot.chunk_count,
            "trace_id": format(span_context.trace_id, "032x") if span_context.is_valid else None,
        }

    async def _play_answer(self, turn: int, answer: tracewire.StreamSpan) -> int:
        """Receives the answer until ``turn.done``, recording each audio
        chunk; returns the chunk count ``turn.done`` announces."""
        while True:
            message = await self._progress(self._conn.recv())
            if isinstance(message.data, bytes):
                answer.record_chunk(len(message.data))
                continue
            body = _json_object(message.data)
            kind = body.get("type")
            if kind not in ("transcript", "turn.done") or body.get("turn") != turn:
                raise ProtocolError(f"turn {turn}: unexpected message {message.data[:100]!r}")
            if kind == "turn.done":
                announced = body.get("audio_chunks")
                if not isinstance(announced, int):
                    raise ProtocolError(f"turn {turn}: turn.done without an audio_chunks count")
                return announced


def _json_object(text: str) -> Dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProtocolError(f"not a JSON object: {text[:100]!r}")
    return body


async def converse(
    url: str,
    turns: int,
    settings: Settings,
    out: TextIO = sys.stdout,
    stall_timeout_s: float = STALL_TIMEOUT_S,
) -> None:
    """Connects to ``url``, speaks ``turns`` turns printing a TURN line for
    each to ``out``, and closes with 1000. Raises :class:`DeviceError`."""
    try:
        # strip: received messages are the contract's payloads, without the envelope members.
        connecting = tracewire.ws.connect(url, model=settings.model, strip=True)
        # The handshake carries the user's baggage too.
        token = otel_context.attach(baggage.set_baggage(*USER_BAGGAGE))
        try:
            conn = await asyncio.wait_for(connecting, stall_timeout_s)
        finally:
            otel_context.detach(token)
    except (OSError, asyncio.TimeoutError, WebSocketException, tracewire.InvalidUrlError) as exc:
        raise DeviceError(f"cannot connect to {url}: {str(exc) or type(exc).__name__}") from None
    device = Device(conn, settings, stall_timeout_s)
    finished = False
    try:
        for turn in range(1, turns + 1):
            result = await device.speak(turn)
            print("TURN " + json.dumps(result), file=out, flush=True)
        finished = True
    except ConnectionClosed as exc:
        raise DeviceError(f"the gateway closed the connection: {exc}") from None
    finally:
        # A failed session still closes (1011, internal error), so its
        # connection span ends with the close recorded.
        await conn.close(1000 if finished else 1011)


class _Tagged:
    """Stdout for one of many sessions: each TURN line carries the session."""

    def __init__(self, session: int) -> None:
        self._session = session

    def write(self, line: str) -> None:
        if line.startswith("TURN "):
            values = json.loads(line[len("TURN ") :])
            line = "TURN " + json.dumps({"session": self._session, **values}) + "\n"
        if line.strip():
            sys.stdout.write(line)

    def flush(self) -> None:
        sys.stdout.flush()


async def converse_many(
    url: str, turns: int, settings: Settings, sessions: int, ramp_s: float, stall_timeout_s: float
) -> None:
    """Runs ``sessions`` sessions of ``turns`` turns at once, started
    ``ramp_s`` apart. A failed session is a FAILED line; the others go on.
    Raises :class:`DeviceError` at the end if any failed."""

    async def one(index: int) -> bool:
        await asyncio.sleep(index * ramp_s)
        try:
            await converse(url, turns, settings, out=_Tagged(index), stall_timeout_s=stall_timeout_s)  # type: ignore[arg-type]
        except DeviceError as exc:
            print("FAILED " + json.dumps({"session": index, "error": str(exc)}), flush=True)
            return False
        return True

    results = await asyncio.gather(*(one(i) for i in range(sessions)))
    failed = results.count(False)
    if failed:
        raise DeviceError(f"{failed} of {sessions} sessions failed")


async def _converse_until_signalled(
    url: str, turns: int, settings: Settings, sessions: int, ramp_s: float, stall_timeout_s: float
) -> None:
    """Runs the sessions; SIGTERM or SIGINT cut them short (a DeviceError)."""
    stop = service.stop_on_signals()
    if sessions == 1:
        session = asyncio.create_task(converse(url, turns, settings, stall_timeout_s=stall_timeout_s))
    else:
        session = asyncio.create_task(converse_many(url, turns, settings, sessions, ramp_s, stall_timeout_s))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({session, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not session.done():
        session.cancel()
        await asyncio.gather(session, return_exceptions=True)
        raise DeviceError("stopped by a signal before the last turn")
    session.result()


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return int(value)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the device; returns the exit code."""
    parser = service.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway, ws://HOST:PORT/voice")
    parser.add_argument("--turns", type=_positive, default=3, help="turns to speak (default 3)")
    parser.add_argument("--sessions", type=_positive, default=1, help="sessions at once (default 1)")
    parser.add_argument("--ramp-ms", type=float, default=2.0, help="between session starts (default 2)")
    parser.add_argument("--stall-timeout", type=float, default=STALL_TIMEOUT_S,
                        help=f"seconds without progress before a session fails (default {STALL_TIMEOUT_S:g})")
    args = parser.parse_args(argv)
    service.configure_logging(NAME)
    try:
        settings = Settings.from_env()
        tracing = service.setup_tracing(NAME)
    except service.StartupError as exc:
        return service.fail(NAME, str(exc), 2)
    try:
        asyncio.run(_converse_until_signalled(args.url, args.turns, settings, args.sessions,
                                              args.ramp_ms / 1e3, args.stall_timeout))
    except DeviceError as exc:
        return service.fail(NAME, str(exc))
    finally:
        tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
