"""device: the voice assistant's user end (Python, websockets client).

Speaks a few turns to the gateway: per turn ``turn.start``, 25 audio chunks
at real-time pace and ``turn.end``, then plays the streamed answer until
``turn.done``. Prints one ``TURN {json}`` line per turn with the perceived
latency. The contract is in demos/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Dict, Optional

import tracewire
import tracewire.ws
from opentelemetry import trace
from opentelemetry.context import Context

import service
from audio import tone

NAME = "device"
UTTERANCE_CHUNKS = 25
# Without progress for this long, the device gives up.
STALL_TIMEOUT_S = 30.0


class ProtocolError(Exception):
    """The gateway answered something the contract does not allow."""


async def speak(conn: tracewire.ws.TracedConnection, number: int, pace: float,
                instruments: tracewire.StreamInstruments) -> Dict[str, object]:
    tracer = trace.get_tracer(NAME)
    # Connection model: the turn belongs to the session's trace. Message
    # model: every turn is a trace of its own.
    parent = (Context() if conn.model == "message"
              else trace.set_span_in_context(conn.connection_span or trace.INVALID_SPAN))
    with tracer.start_as_current_span("turn", context=parent,
                                      attributes={"demo.turn": number}) as turn:
        started = time.monotonic()
        await conn.send(json.dumps({"type": "turn.start", "turn": number}))
        for i in range(UTTERANCE_CHUNKS):
            if i:
                await asyncio.sleep(0.020 * pace)
            await conn.send(tone(i))
        await conn.send(json.dumps({"type": "turn.end", "turn": number,
                                    "chunks": UTTERANCE_CHUNKS}))
        with tracewire.StreamSpan("answer audio", instruments,
                                  attributes={"demo.turn": number}) as answer:
            while True:
                message = await asyncio.wait_for(conn.recv(), STALL_TIMEOUT_S)
                if isinstance(message.data, bytes):
                    answer.record_chunk(len(message.data))
                    continue
                body = json.loads(message.data)
                if body.get("type") == "transcript":
                    continue
                if body.get("type") != "turn.done" or body.get("turn") != number:
                    raise ProtocolError(f"unexpected message {message.data[:80]!r}")
                break
            snapshot = answer.metrics.snapshot()
        if body.get("audio_chunks") != snapshot.chunk_count:
            raise ProtocolError(f"turn {number}: gateway says {body.get('audio_chunks')} "
                                f"audio chunks, {snapshot.chunk_count} arrived")
        trace_id: Optional[str] = None
        if turn.get_span_context().is_valid:
            trace_id = format(turn.get_span_context().trace_id, "032x")
    return {
        "turn": number,
        "latency_s": time.monotonic() - started,
        "time_to_first_audio_s": snapshot.time_to_first_chunk,
        "time_to_last_audio_s": snapshot.time_to_last_chunk,
        "audio_chunks": snapshot.chunk_count,
        "trace_id": trace_id,
    }


async def converse(url: str, turns: int) -> int:
    model, pace = service.model(), service.pace()
    instruments = tracewire.StreamInstruments(kind="generic")
    try:
        conn = await asyncio.wait_for(tracewire.ws.connect(url, model=model), STALL_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError) as exc:
        service.log(NAME, f"cannot connect to {url}: {exc or 'timed out'}")
        return 1
    try:
        for number in range(1, turns + 1):
            print("TURN " + json.dumps(await speak(conn, number, pace, instruments)), flush=True)
    except asyncio.TimeoutError:
        service.log(NAME, f"no answer from the gateway for {STALL_TIMEOUT_S:.0f} s")
        return 1
    except (ProtocolError, ValueError) as exc:
        service.log(NAME, str(exc))
        return 1
    except Exception as exc:  # connection closed or failed: say which and why
        service.log(NAME, f"{type(exc).__name__}: {exc}")
        return 1
    await conn.close(1000)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway, ws://HOST:PORT/voice")
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    return service.run(NAME, lambda: converse(args.url, args.turns))


if __name__ == "__main__":
    sys.exit(main())
