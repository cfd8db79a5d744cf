"""tts: the voice assistant's text-to-speech stand-in (Python, websockets server).

Serves ``/tts``. Per turn the gateway sends ``start``, one ``text`` per llm
token and ``end``; tts answers 3 audio chunks per text (the first 40 ms x
pace after the text arrives, then 20 ms x pace apart, in text order) and,
after ``end`` and the last chunk, ``done`` with the chunk count. Each turn is
a ``synthesize`` stream span under the process span of its ``start``.

    python tts.py [--host 127.0.0.1] [--port 0]

The contract (messages, spans, environment, READY line, stopping) is in
demos/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
from http import HTTPStatus
from typing import Any, Callable, Dict, List, Optional, Set
from urllib.parse import urlsplit

import tracewire
import tracewire.ws
from opentelemetry import baggage
from websockets.exceptions import ConnectionClosedError

import service
from service import Settings

NAME = "tts"
PATH = "/tts"
CHUNKS_PER_TEXT = 3
FIRST_CHUNK_DELAY_S = 0.040
CHUNK_INTERVAL_S = 0.020

log = logging.getLogger(NAME)


class Synthesis:
    """One turn's speech: a ``synthesize`` stream span and a task that turns
    queued texts into audio, in order, while the connection keeps receiving.

    Create it while the process span of the turn's ``start`` is current: that
    span is the parent of ``synthesize``.
    """

    def __init__(
        self,
        conn: tracewire.ws.TracedConnection,
        turn: int,
        settings: Settings,
        instruments: tracewire.StreamInstruments,
    ) -> None:
        self.turn = turn
        self._conn = conn
        self._settings = settings
        # demo.baggage: what reached tts from the gateway (the cross-language
        # test checks that the device's baggage never does).
        self._stream = tracewire.StreamSpan(
            "synthesize",
            instruments,
            attributes={"demo.turn": turn, "demo.baggage": ",".join(sorted(baggage.get_all()))},
        )
        # Arrival times (event-loop clock) of the texts not yet spoken; None: `end`.
        self._texts: "asyncio.Queue[Optional[float]]" = asyncio.Queue()
        self.task = asyncio.create_task(self._speak(), name=f"tts turn {turn}")

    def add_text(self) -> None:
        """Queues the audio of one text that has just arrived."""
        self._texts.put_nowait(asyncio.get_running_loop().time())

    def end(self) -> None:
        """No more texts: ``done`` follows the last queued chunk."""
        self._texts.put_nowait(None)

    async def _speak(self) -> None:
        # Inside the stream span: audio and `done` are sent under `synthesize`.
        with self._stream as stream:
            sent = 0
            while (arrived := await self._texts.get()) is not None:
                deadline = arrived + self._settings.delay(FIRST_CHUNK_DELAY_S)
                for i in range(CHUNKS_PER_TEXT):
                    await service.sleep_until(deadline)
                    chunk = service.tone_chunk(sent, frequency_hz=330.0)
                    await self._conn.send(chunk)
                    stream.record_chunk(len(chunk))
                    sent += 1
                    deadline = asyncio.get_running_loop().time() + self._settings.delay(CHUNK_INTERVAL_S)
            await self._conn.send(json.dumps({"type": "done", "turn": self.turn, "chunks": sent}))


class Session:
    """One gateway connection: its turns in progress and their tasks."""

    def __init__(
        self,
        conn: tracewire.ws.TracedConnection,
        settings: Settings,
        instruments: tracewire.StreamInstruments,
    ) -> None:
        self._conn = conn
        self._settings = settings
        self._instruments = instruments
        # Turns that got `start` but not yet `end`.
        self._open: Dict[int, Synthesis] = {}
        self._tasks: Set["asyncio.Task[None]"] = set()

    async def run(self) -> None:
        """Handles messages until the gateway closes, then lets every turn
        run out: a turn with audio or ``done`` still to send fails on the
        closed connection (its span ends with the error), a turn already
        answered just ends."""
        try:
            await self._conn.handle(self._on_message)
        except ConnectionClosedError as exc:
            log.warning("the gateway's connection broke: %s", exc)
        finally:
            for synthesis in self._open.values():
                synthesis.end()
            self._open.clear()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_message(self, message: tracewire.ws.Message) -> None:
        # The message's process span is current here.
        if not isinstance(message.data, str):
            log.warning("ignored a binary frame of %d bytes", len(message.data))
            return
        try:
            body = json.loads(message.data)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("turn"), int):
            log.warning("ignored a malformed message: %.80r", message.data)
            return
        kind, turn = body.get("type"), body["turn"]
        if kind == "start":
            self._start(turn)
        elif kind in ("text", "end") and turn in self._open:
            if kind == "text":
                self._open[turn].add_text()
            else:
                self._open.pop(turn).end()
        else:
            log.warning("ignored %r for turn %r (turns open: %s)", kind, turn, sorted(self._open) or "none")

    def _start(self, turn: int) -> None:
        if turn in self._open:
            log.warning("ignored a second start of turn %r", turn)
            return
        synthesis = Synthesis(self._conn, turn, self._settings, self._instruments)
        self._open[turn] = synthesis
        self._tasks.add(synthesis.task)
        synthesis.task.add_done_callback(self._finished)

    def _finished(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s failed: %s", task.get_name(), task.exception())


def _not_found_elsewhere(connection: Any, request: Any) -> Any:
    """Answers 404 to a handshake for any path but ``/tts``."""
    if urlsplit(request.path).path != PATH:
        return connection.respond(HTTPStatus.NOT_FOUND, f"tts serves {PATH} only\n")
    return None


def ready_url(sockets: List[socket.socket]) -> str:
    """The ``ws://`` URL of the listening sockets (IPv4 preferred)."""
    addresses = [s.getsockname() for s in sockets]
    ipv4 = [a for a in addresses if len(a) == 2]
    host, port = (ipv4 or addresses)[0][:2]
    return f"ws://{f'[{host}]' if ':' in host else host}:{port}{PATH}"


async def serve(
    host: str,
    port: int,
    settings: Settings,
    stop: asyncio.Event,
    on_ready: Callable[[str], None] = service.print_ready,
) -> None:
    """Serves ``/tts`` on ``host:port`` until ``stop`` is set; calls
    ``on_ready`` with the URL once connections are accepted. Closing the
    server closes the open connections."""
    instruments = tracewire.StreamInstruments(kind="generic")

    async def on_connection(conn: tracewire.ws.TracedConnection) -> None:
        await Session(conn, settings, instruments).run()

    # strip: the handler sees the contract's payloads, without the envelope members.
    async with tracewire.ws.serve(
        on_connection, host, port, model=settings.model, strip=True, process_request=_not_found_elsewhere
    ) as server:
        on_ready(ready_url(list(server.sockets)))
        await stop.wait()
        log.info("stopping")


async def _serve_until_signalled(host: str, port: int, settings: Settings) -> None:
    await serve(host, port, settings, service.stop_on_signals())


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value!r}")
    return int(value)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the service; returns the exit code."""
    parser = service.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (0: a free one)")
    args = parser.parse_args(argv)
    service.configure_logging(NAME)
    try:
        settings = Settings.from_env()
        tracing = service.setup_tracing(NAME)
    except service.StartupError as exc:
        return service.fail(NAME, str(exc), 2)
    try:
        asyncio.run(_serve_until_signalled(args.host, args.port, settings))
    except OSError as exc:  # the port is taken, the host is not ours, ...
        return service.fail(NAME, f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    finally:
        tracing.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
