"""opentelemetry-python interop: our propagator against the SDK's own
``TraceContextTextMapPropagator`` + ``W3CBaggagePropagator``, context
conversion, and capture/restore across threads and queues."""

from __future__ import annotations

import queue
import random
import string
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Tuple

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import tracewire as tw

THEIRS = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
OURS = tw.W3CPropagator()

# Characters both propagators carry unchanged in baggage values. Excluded:
# ' ' and '+', because opentelemetry-python encodes a space as '+'
# (quote_plus) and decodes '+' as a space, which W3C Baggage does not do.
VALUE_CHARS = string.ascii_letters + string.digits + "!#$&'()*-./:<>?@[]^_`{|}~%,;=\"\\é€"
# Keys: tokens that quote_plus leaves alone; opentelemetry-python also
# percent-encodes token characters such as '`' or '!' in keys and decodes
# them on receipt, which W3C Baggage does not (keys are plain tokens).
KEY_CHARS = string.ascii_letters + string.digits + "-._~"
TS_KEY_CHARS = string.ascii_lowercase + string.digits + "_-*/"
TS_VALUE_CHARS = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ",=")


def random_context(rng: random.Random) -> Context:
    entries: List[Tuple[str, str]] = []
    for _ in range(rng.choice([0, 0, 1, 2, 5])):
        key = rng.choice(string.ascii_lowercase) + "".join(rng.choice(TS_KEY_CHARS) for _ in range(rng.randrange(0, 12)))
        if key not in dict(entries):
            entries.append((key, "".join(rng.choice(TS_VALUE_CHARS) for _ in range(rng.randrange(1, 20)))))
    sc = SpanContext(
        trace_id=rng.getrandbits(128) or 1,
        span_id=rng.getrandbits(64) or 1,
        is_remote=rng.random() < 0.5,
        trace_flags=TraceFlags(rng.choice([0, 1])),
        trace_state=TraceState(entries),
    )
    ctx = trace.set_span_in_context(NonRecordingSpan(sc), Context())
    for _ in range(rng.choice([0, 0, 1, 3])):
        key = "".join(rng.choice(KEY_CHARS) for _ in range(rng.randrange(1, 10)))
        value = "".join(rng.choice(VALUE_CHARS) for _ in range(rng.randrange(0, 15)))
        ctx = baggage.set_baggage(key, value, ctx)
    return ctx


def summary(ctx: Context) -> Tuple[object, ...]:
    sc = trace.get_current_span(ctx).get_span_context()
    return (
        sc.trace_id,
        sc.span_id,
        int(sc.trace_flags),
        sc.is_remote,
        tuple(sc.trace_state.items()),
        tuple(sorted(baggage.get_all(ctx).items())),
    )


def test_fields() -> None:
    assert OURS.fields == THEIRS.fields


@pytest.mark.parametrize("seed", range(10))
def test_round_trip_with_opentelemetry_python(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        ctx = random_context(rng)
        ours: Dict[str, str] = {}
        theirs: Dict[str, str] = {}
        OURS.inject(ours, ctx)
        THEIRS.inject(theirs, ctx)
        # traceparent / tracestate are byte-identical; baggage is equal in
        # meaning (percent-encoding choices differ), so compare what each
        # side reads back from the other's headers.
        assert ours["traceparent"] == theirs["traceparent"]
        assert ours.get("tracestate") == theirs.get("tracestate")
        want = summary(ctx)[:2] + summary(ctx)[2:3]
        for headers in (ours, theirs):
            a, b = OURS.extract(headers), THEIRS.extract(headers)
            assert summary(a) == summary(b), headers
            assert summary(a)[:3] == want
            assert summary(a)[4:] == (tuple(trace.get_current_span(ctx).get_span_context().trace_state.items()), tuple(sorted(baggage.get_all(ctx).items())))
            assert summary(a)[3] is True


def test_extract_on_bad_input_matches_a_new_trace() -> None:
    for headers in (
        {},
        {"traceparent": "garbage"},
        {"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
        {"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    ):
        a = OURS.extract(headers)
        assert not trace.get_current_span(a).get_span_context().is_valid
        assert summary(a) == summary(THEIRS.extract(headers))


def test_extract_keeps_the_given_context_and_merges_baggage() -> None:
    base = baggage.set_baggage("old", "1", Context())
    got = OURS.extract({"baggage": "new=2"}, base)
    assert baggage.get_all(got) == {"old": "1", "new": "2"}
    got = OURS.extract({"traceparent": "nope"}, base)
    assert baggage.get_all(got) == {"old": "1"}


def test_custom_getter_and_setter() -> None:
    class ListGetter(Getter[List[Tuple[str, str]]]):
        def get(self, carrier: List[Tuple[str, str]], key: str) -> List[str]:
            return [v for k, v in carrier if k == key]

        def keys(self, carrier: List[Tuple[str, str]]) -> List[str]:
            return [k for k, _ in carrier]

    class ListSetter(Setter[List[Tuple[str, str]]]):
        def set(self, carrier: List[Tuple[str, str]], key: str, value: str) -> None:
            carrier.append((key, value))

    ctx = random_context(random.Random(1))
    out: List[Tuple[str, str]] = []
    OURS.inject(out, ctx, setter=ListSetter())
    assert [k for k, _ in out][0] == "traceparent"
    back = OURS.extract(out, getter=ListGetter())
    assert summary(back)[:3] == summary(ctx)[:3]
    # several tracestate lines are combined, as W3C says
    two = [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ("tracestate", "a=1"), ("tracestate", "b=2")]
    sc = trace.get_current_span(OURS.extract(two, getter=ListGetter())).get_span_context()
    assert list(sc.trace_state.items()) == [("a", "1"), ("b", "2")]


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    all_eps = entry_points()
    if hasattr(all_eps, "select"):
        eps = list(all_eps.select(group="opentelemetry_propagator"))
    else:  # Python 3.9
        eps = list(all_eps.get("opentelemetry_propagator", []))  # type: ignore[attr-defined]
    assert any(ep.name == "tracewire" and ep.load() is tw.W3CPropagator for ep in eps)


def test_global_propagator_via_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import opentelemetry.propagate as propagate

    monkeypatch.setenv("OTEL_PROPAGATORS", "tracewire")
    try:
        importlib.reload(propagate)
        carrier: Dict[str, str] = {}
        propagate.inject(carrier, random_context(random.Random(3)))
        assert "traceparent" in carrier
        assert any(isinstance(p, tw.W3CPropagator) for p in propagate.get_global_textmap()._propagators)  # type: ignore[attr-defined]
    finally:
        monkeypatch.delenv("OTEL_PROPAGATORS")
        importlib.reload(propagate)


def test_context_conversion() -> None:
    ctx = random_context(random.Random(5))
    tc = tw.from_otel_context(ctx)
    assert tc.trace_id == format(trace.get_current_span(ctx).get_span_context().trace_id, "032x")
    assert summary(tw.to_otel_context(tc))[:3] == summary(ctx)[:3]
    token = context.attach(ctx)
    try:
        assert tw.TraceContext.from_otel() == tc
    finally:
        context.detach(token)
    assert tw.TraceContext.from_otel(Context()).is_empty


def test_capture_restore_through_a_queue_and_threads(tracer: trace.Tracer, exporter) -> None:  # type: ignore[no-untyped-def]
    q: "queue.Queue[Tuple[bytes, int]]" = queue.Queue()
    with tracer.start_as_current_span("producer") as producer:
        ctx = baggage.set_baggage("tenant", "acme")
        token = context.attach(ctx)
        try:
            for i in range(3):
                q.put((tw.capture(), i))
        finally:
            context.detach(token)

    def consume() -> None:
        while True:
            try:
                carrier, i = q.get_nowait()
            except queue.Empty:
                return
            with tw.restored(carrier) as restored:
                assert baggage.get_baggage("tenant") == "acme"
                assert restored is context.get_current()
                with tracer.start_as_current_span(f"consume {i}"):
                    pass

    t = threading.Thread(target=consume)
    t.start()
    t.join()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    for i in range(3):
        assert spans[f"consume {i}"].parent is not None
        assert spans[f"consume {i}"].parent.span_id == producer.get_span_context().span_id
        assert spans[f"consume {i}"].context.trace_id == producer.get_span_context().trace_id

    with pytest.raises(tw.InvalidEnvelopeError):
        tw.restore(b"not a carrier")


def test_bind_carries_the_context_into_a_thread_pool(tracer: trace.Tracer) -> None:
    def current_trace_id() -> int:
        return int(trace.get_current_span().get_span_context().trace_id)

    with tracer.start_as_current_span("outer") as outer:
        with ThreadPoolExecutor(2) as pool:
            plain = pool.submit(current_trace_id).result()
            bound = pool.submit(tw.bind(current_trace_id)).result()
    assert bound == outer.get_span_context().trace_id
    assert plain == 0


def test_received_level2_context_survives_the_sdk_span(tracer: trace.Tracer) -> None:
    # opentelemetry-python's TraceState is filled with what the core parsed
    # (its own checks would drop these keys) and its SDK keeps the random
    # flag: the whole context goes on through a span it starts.
    state = "foo@@bar=1,congo=2,t61@rcwkgmzeverylongsystem=x,1digit=y"
    headers = {
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02",
        "tracestate": state,
    }
    parent = tw.W3CPropagator().extract(headers)
    with tracer.start_as_current_span("child", context=parent) as span:
        out: Dict[str, str] = {}
        tw.W3CPropagator().inject(out)
    span_id = format(span.get_span_context().span_id, "016x")
    assert span_id != "b7ad6b7169203331"
    assert out["traceparent"] == f"00-0af7651916cd43dd8448eb211c80319c-{span_id}-02"
    assert out["tracestate"] == state
