"""tts: the voice assistant's text-to-speech stand-in (Python, websockets).

Serves ``/tts``. Per turn: ``start``, then ``text`` messages as the gateway
gets tokens, then ``end``; answers 3 audio chunks per text and ``done``.
The contract is in demos/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Optional, Tuple

import tracewire
import tracewire.ws
from opentelemetry import context as otel_context

import service
from audio import CHUNK_BYTES, tone

NAME = "tts"
CHUNKS_PER_TEXT = 3


class Synthesis:
    """One turn's speech: texts queue up and become audio in order, while
    the connection keeps receiving."""

    def __init__(self, conn: tracewire.ws.TracedConnection, turn: int,
                 instruments: tracewire.StreamInstruments, pace: float) -> None:
        self.conn = conn
        self.turn = turn
        self.pace = pace
        # Parent: the process span of `start`, current in the handler.
        self.stream = tracewire.StreamSpan(
            "synthesize", instruments, context=otel_context.get_current(),
            attributes={"demo.turn": turn})
        self.texts: "asyncio.Queue[Optional[Tuple[float, str]]]" = asyncio.Queue()
        self.task = asyncio.create_task(self._speak())

    async def _speak(self) -> None:
        loop = asyncio.get_running_loop()
        cx = self.stream.context
        sent = 0
        try:
            while (item := await self.texts.get()) is not None:
                arrived, _text = item
                await asyncio.sleep(max(0.0, arrived + 0.040 * self.pace - loop.time()))
                for i in range(CHUNKS_PER_TEXT):
                    if i:
                        await asyncio.sleep(0.020 * self.pace)
                    await self.conn.send(tone(sent), context=cx)
                    self.stream.record_chunk(CHUNK_BYTES)
                    sent += 1
            done = {"type": "done", "turn": self.turn, "chunks": sent}
            await self.conn.send(json.dumps(done), context=cx)
        finally:
            self.stream.end()


async def serve(host: str, port: int) -> int:
    model, pace = service.model(), service.pace()
    instruments = tracewire.StreamInstruments(kind="generic")

    async def session(conn: tracewire.ws.TracedConnection) -> None:
        synthesis: Optional[Synthesis] = None
        loop = asyncio.get_running_loop()

        async def on_message(message: tracewire.ws.Message) -> None:
            nonlocal synthesis
            if not isinstance(message.data, str):
                return service.log(NAME, "ignored a binary frame")
            try:
                body = json.loads(message.data)
                kind, turn = body["type"], int(body["turn"])
            except (ValueError, KeyError, TypeError):
                return service.log(NAME, f"ignored a malformed message: {message.data[:80]!r}")
            if kind == "start":
                synthesis = Synthesis(conn, turn, instruments, pace)
            elif synthesis is None:
                service.log(NAME, f"ignored {kind!r} outside a turn")
            elif kind == "text":
                synthesis.texts.put_nowait((loop.time(), str(body.get("text", ""))))
            elif kind == "end":
                synthesis.texts.put_nowait(None)
                synthesis = None
            else:
                service.log(NAME, f"ignored a message of type {kind!r}")

        try:
            await conn.handle(on_message)
        finally:
            if synthesis is not None:
                synthesis.task.cancel()

    async with tracewire.ws.serve(session, host, port, model=model) as server:
        bound = server.sockets[0].getsockname()
        service.ready(f"ws://{bound[0]}:{bound[1]}/tts")
        await service.until_stopped()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    return service.run(NAME, lambda: serve(args.host, args.port))


if __name__ == "__main__":
    sys.exit(main())
