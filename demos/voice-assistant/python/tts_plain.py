"""tts, the plain way: the same text-to-speech stand-in as tts.py, written as
an AI team writes a FastAPI WebSocket endpoint, with no tracewire code.

Run under ``opentelemetry-instrument`` (``make demo AGENT=1`` does), it is
traced like tts.py: tracewire's Starlette instrumentor (an entry point of the
tracewire wheel) reads the gateway's context from the handshake, negotiates
the envelopes, and gives each message its process and send spans, in the
model ``OTEL_PYTHON_TRACEWIRE_MODEL`` names; the OpenTelemetry distro sets up
the SDK from the standard ``OTEL_*`` variables. The only telemetry code here
is the application's own ``synthesize`` span, with the OpenTelemetry API.

    opentelemetry-instrument python tts_plain.py [--host 127.0.0.1] [--port 0]

Per turn the gateway sends ``start``, one ``text`` per llm token and ``end``;
this answers 3 audio chunks per text (the first 40 ms x ``DEMO_PACE`` after
the text arrives, then 20 ms x pace apart, in text order) and, after ``end``
and the last chunk, ``done`` with the chunk count (demos/README.md).
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import logging
import math
import os
import signal
import sys
from typing import Dict, List, Optional, Set

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from opentelemetry import baggage, trace

PATH = "/tts"
CHUNKS_PER_TEXT = 3
FIRST_CHUNK_DELAY_S = 0.040
CHUNK_INTERVAL_S = 0.020
SAMPLE_RATE_HZ = 16_000
CHUNK_SAMPLES = SAMPLE_RATE_HZ // 50  # 20 ms of 16-bit mono PCM

log = logging.getLogger("tts")
tracer = trace.get_tracer("tts")
app = FastAPI()


def pace() -> float:
    raw = os.environ.get("DEMO_PACE", "").strip() or "1.0"
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"DEMO_PACE={raw!r}: expected a finite number >= 0")
    return value


def tone_chunk(index: int, frequency_hz: float = 330.0) -> bytes:
    """Chunk ``index`` (20 ms, 640 bytes) of a continuous sine tone: 16 kHz
    16-bit little-endian mono PCM (the same audio as tts.py's)."""
    first = index * CHUNK_SAMPLES
    step = 2 * math.pi * frequency_hz / SAMPLE_RATE_HZ
    samples = array.array("h", (round(8000 * math.sin(step * (first + i))) for i in range(CHUNK_SAMPLES)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


class Synthesis:
    """One turn: a task speaking the queued texts in order under the turn's
    ``synthesize`` span (started while the process span of ``start`` is
    current, so it is its child; the audio's send spans are its children)."""

    def __init__(self, websocket: WebSocket, turn: int, pace: float) -> None:
        self.turn = turn
        self._websocket = websocket
        self._pace = pace
        self._texts: "asyncio.Queue[Optional[float]]" = asyncio.Queue()
        self._span = tracer.start_span(
            "synthesize", attributes={"demo.turn": turn, "demo.baggage": ",".join(sorted(baggage.get_all()))}
        )
        self.task = asyncio.create_task(self._speak(), name=f"tts turn {turn}")

    def add_text(self) -> None:
        self._texts.put_nowait(asyncio.get_running_loop().time())

    def end(self) -> None:
        self._texts.put_nowait(None)

    async def _speak(self) -> None:
        loop = asyncio.get_running_loop()
        with trace.use_span(self._span, end_on_exit=True):
            sent = 0
            while (arrived := await self._texts.get()) is not None:
                deadline = arrived + FIRST_CHUNK_DELAY_S * self._pace
                for _ in range(CHUNKS_PER_TEXT):
                    delay = deadline - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await self._websocket.send_bytes(tone_chunk(sent))
                    sent += 1
                    deadline = loop.time() + CHUNK_INTERVAL_S * self._pace
            self._span.set_attribute("demo.chunks", sent)
            await self._websocket.send_text(json.dumps({"type": "done", "turn": self.turn, "chunks": sent}))


@app.websocket(PATH)
async def tts(websocket: WebSocket) -> None:
    await websocket.accept()
    turns: Dict[int, Synthesis] = {}
    tasks: Set["asyncio.Task[None]"] = set()
    speed = pace()
    try:
        while True:
            try:
                body = json.loads(await websocket.receive_text())
                kind, turn = body.get("type"), body.get("turn")
            except (ValueError, AttributeError):
                log.warning("ignored a malformed message")
                continue
            if kind == "start" and isinstance(turn, int) and turn not in turns:
                turns[turn] = synthesis = Synthesis(websocket, turn, speed)
                tasks.add(synthesis.task)
                synthesis.task.add_done_callback(tasks.discard)
            elif kind == "text" and turn in turns:
                turns[turn].add_text()
            elif kind == "end" and turn in turns:
                turns.pop(turn).end()
            else:
                log.warning("ignored %r for turn %r", kind, turn)
    except WebSocketDisconnect:
        pass
    finally:
        for synthesis in turns.values():
            synthesis.end()
        await asyncio.gather(*tasks, return_exceptions=True)


async def serve(host: str, port: int) -> None:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise SystemExit(1)  # uvicorn logged why (e.g. the port is taken)
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    print(f"READY ws://{bound[0]}:{bound[1]}{PATH}", flush=True)
    await task


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="tts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="tts: %(message)s")
    try:
        pace()
    except ValueError as exc:
        print(f"tts: {exc}", file=sys.stderr)
        return 2
    # uvicorn stops on SIGTERM/SIGINT and then raises the signal again with
    # the handler it found: these let the process exit 0 (and flush its spans).
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
