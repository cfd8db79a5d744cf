"""Benchmarks of the Python binding, side by side with opentelemetry-python.

- extract (headers -> OpenTelemetry ``Context``) and inject (``Context`` ->
  headers): ``tracewire.W3CPropagator`` vs opentelemetry-python's default
  ``tracecontext,baggage`` pair (``TraceContextTextMapPropagator`` +
  ``W3CBaggagePropagator`` in a ``CompositePropagator``), without and with
  tracestate;
- the same with a different tracestate on every call (no reuse of the
  converted ``TraceState`` objects between calls);
- one JSON message sent and received with its context: ``JsonEnvelope``
  vs the hand-written way (the propagator's header dict merged into the
  message with ``json.dumps``, read back with ``json.loads`` + ``extract``);
- one traced message through ``tracewire.ws.TracedConnection`` (send span,
  codec, process span, over an in-memory socket; the spans sampled out so
  the binding's own work shows) vs the same spans and envelope written by
  hand with opentelemetry-python (a producer span, the propagator into the
  JSON, a consumer span under the extracted context; no attributes).

Run: ``make -C bindings-python bench``. Prints microseconds per operation
(best of several alternating rounds) and the speed-up (theirs / ours).
"""

from __future__ import annotations

import itertools
import json
import sys
import timeit
from typing import Any, Callable, Dict, List, Tuple

from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import tracewire as tw

OURS = tw.W3CPropagator()
THEIRS = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACESTATE = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,vendor3=abc123"


ROUNDS = 9


def side_by_side(ours: Callable[[], object], theirs: Callable[[], object]) -> Tuple[float, float]:
    """Microseconds per call of each, best of ROUNDS rounds that alternate
    between the two (so a busy machine slows both alike)."""
    timers = [timeit.Timer(ours), timeit.Timer(theirs)]
    numbers = [max(t.autorange()[0], 2000) for t in timers]
    best = [float("inf"), float("inf")]
    for _ in range(ROUNDS):
        for i, t in enumerate(timers):
            best[i] = min(best[i], t.timeit(numbers[i]) / numbers[i] * 1e6)
    return best[0], best[1]


def context(with_tracestate: bool) -> Context:
    ts = TraceState(list(p.split("=") for p in TRACESTATE.split(","))) if with_tracestate else None  # type: ignore[misc]
    sc = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, False, TraceFlags(1), ts)
    ctx = trace.set_span_in_context(NonRecordingSpan(sc), Context())
    return baggage.set_baggage("userId", "alice", ctx)


def headers(with_tracestate: bool) -> Dict[str, str]:
    h = {"traceparent": TRACEPARENT, "baggage": "userId=alice"}
    if with_tracestate:
        h["tracestate"] = TRACESTATE
    return h


class _Echo:
    """An in-memory socket: what is sent is received."""

    def __init__(self) -> None:
        self.frames: List[object] = []

    async def send(self, frame: object) -> None:
        self.frames.append(frame)

    async def recv(self) -> object:
        return self.frames.pop()


def _drive(coro: Any) -> Any:
    """Runs a coroutine that never suspends (the in-memory socket)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("suspended")


def traced_message() -> Tuple[float, float]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
    from opentelemetry.trace import SpanKind

    from tracewire import ws as tws
    from tracewire._spans import SpanApplier

    provider = TracerProvider(sampler=ALWAYS_OFF)
    conn = tw.Connection.from_target("connection", "client", "s-1", tw.Target.from_url("wss://example.com/chat"))
    spans = SpanApplier(conn, provider)
    spans.open(ambient=Context())
    traced = tws.TracedConnection(_Echo(), spans=spans, codec=tw.Codec(tw.Envelopes.ALL))
    text = json.dumps({"type": "chat", "text": "hello, how is the weather today?", "seq": 42})
    tracer = provider.get_tracer("bench")
    connection = spans.connection_context

    def ours() -> object:
        _drive(traced.send(text))
        return _drive(traced.recv()).data

    def theirs() -> object:
        send = tracer.start_span("send /chat", context=connection, kind=SpanKind.PRODUCER)
        carrier: Dict[str, str] = {}
        THEIRS.inject(carrier, trace.set_span_in_context(send))
        frame = json.dumps({**carrier, **json.loads(text)})
        send.end()
        received = json.loads(frame)
        parent = THEIRS.extract(received)
        process = tracer.start_span("process /chat", context=parent, kind=SpanKind.CONSUMER)
        process.end()
        return json.dumps({k: v for k, v in received.items() if k not in carrier})

    assert ours() == text and json.loads(str(theirs())) == json.loads(text)
    return side_by_side(ours, theirs)


def main() -> int:
    rows: List[Tuple[str, float, float]] = []
    for with_ts in (False, True):
        label = "with tracestate" if with_ts else "no tracestate"
        h = headers(with_ts)
        assert trace.get_current_span(OURS.extract(h)).get_span_context() == trace.get_current_span(THEIRS.extract(h)).get_span_context()
        rows.append((f"extract ({label})", *side_by_side(lambda: OURS.extract(h), lambda: THEIRS.extract(h))))
        ctx = context(with_ts)
        a: Dict[str, str] = {}
        b: Dict[str, str] = {}
        OURS.inject(a, ctx)
        THEIRS.inject(b, ctx)
        assert a == b, (a, b)
        rows.append((f"inject ({label})", *side_by_side(lambda: OURS.inject({}, ctx), lambda: THEIRS.inject({}, ctx))))

    # A different tracestate on every call, so nothing is reused between calls.
    fresh = [dict(headers(True), tracestate=f"{TRACESTATE},n={i}") for i in range(5000)]
    fresh_ctx = [THEIRS.extract(h) for h in fresh]
    nxt = [itertools.cycle(fresh), itertools.cycle(fresh), itertools.cycle(fresh_ctx), itertools.cycle(fresh_ctx)]
    rows.append(
        (
            "extract (a new tracestate each call)",
            *side_by_side(lambda: OURS.extract(next(nxt[0])), lambda: THEIRS.extract(next(nxt[1]))),
        )
    )
    rows.append(
        (
            "inject (a new tracestate each call)",
            *side_by_side(lambda: OURS.inject({}, next(nxt[2])), lambda: THEIRS.inject({}, next(nxt[3]))),
        )
    )

    message = {"type": "chat", "text": "hello, how is the weather today?", "seq": 42}
    env = tw.JsonEnvelope()
    for with_ts in (False, True):
        label = "with tracestate" if with_ts else "no tracestate"
        ctx = context(with_ts)

        def ours() -> object:
            frame = env.inject(json.dumps(message), ctx)
            decoded = env.extract(frame)
            return decoded.otel_context(), json.loads(decoded.payload)

        def theirs() -> object:
            carrier: Dict[str, str] = {}
            THEIRS.inject(carrier, ctx)
            frame = json.dumps({**carrier, **message})
            received = json.loads(frame)
            return THEIRS.extract(received), received

        o_ctx, _ = ours()  # type: ignore[misc]
        t_ctx, _ = theirs()  # type: ignore[misc]
        assert trace.get_current_span(o_ctx).get_span_context() == trace.get_current_span(t_ctx).get_span_context()
        rows.append((f"JSON envelope send+receive ({label})", *side_by_side(ours, theirs)))

    rows.append(("traced JSON message send+process", *traced_message()))

    print(f"tracewire {tw.__version__} on Python {sys.version.split()[0]}; microseconds per operation, best of {ROUNDS} alternating rounds")
    print(f"{'operation':<46} {'tracewire':>10} {'otel-python':>12} {'speed-up':>9}")
    for name, ours_us, theirs_us in rows:
        print(f"{name:<46} {ours_us:>10.2f} {theirs_us:>12.2f} {theirs_us / ours_us:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
