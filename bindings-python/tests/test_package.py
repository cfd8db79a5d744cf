"""The installed package: layout, typing marker, errors and the panic guard."""

from __future__ import annotations

import asyncio
import sysconfig
from pathlib import Path

import pytest

import tracewire as tw
from tracewire import _native
from tracewire import ws as tws


def test_imports_the_installed_wheel() -> None:
    installed = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert installed in Path(tw.__file__).resolve().parents
    assert Path(_native.__file__).resolve().parent == Path(tw.__file__).resolve().parent


def test_version_and_typing_marker() -> None:
    assert tw.__version__ == _native.__version__
    assert tw.__version__.count(".") == 2
    root = Path(tw.__file__).parent
    assert (root / "py.typed").exists()
    assert (root / "_native.pyi").exists()


def test_public_api_is_all() -> None:
    for name in tw.__all__:
        assert hasattr(tw, name), name
        obj = getattr(tw, name)
        if callable(obj):
            assert obj.__doc__, f"{name} has no docstring"


def test_error_codes_match_the_core() -> None:
    core = dict(_native.error_codes())
    assert {c.code_name: int(c) for c in tw.ErrorCode} == core


@pytest.mark.parametrize("code", list(tw.ErrorCode))
def test_every_code_raises_its_class(code: tw.ErrorCode) -> None:
    with pytest.raises(tw.Error) as e:
        _native._testing_error(int(code))
    assert e.value.code == code
    assert type(e.value).code == code
    if code == tw.ErrorCode.PANIC:
        assert isinstance(e.value, RuntimeError)
    else:
        assert isinstance(e.value, ValueError)


def test_panic_surfaces_as_internal_error() -> None:
    with pytest.raises(tw.InternalError) as e:
        _native._testing_panic()
    assert e.value.code == tw.ErrorCode.PANIC
    assert "deliberate test panic" in str(e.value)
    # and the module keeps working afterwards
    assert tw.TraceParent.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").sampled


def test_panic_is_not_a_base_exception_only() -> None:
    try:
        _native._testing_panic()
    except Exception as e:  # noqa: BLE001 - must be catchable as Exception
        assert isinstance(e, tw.Error)
    else:
        raise AssertionError("no exception")


async def _open(uri: str) -> None:
    await tws.connect(uri)


def test_bad_arguments_are_typed() -> None:
    with pytest.raises(tw.InvalidArgumentError):
        tw.Connection("sometimes", "client", "s", "/")
    with pytest.raises(tw.InvalidArgumentError):
        tw.Connection("message", "peer", "s", "/")
    with pytest.raises(tw.InvalidArgumentError):
        tw.JsonEnvelope("params..meta")
    with pytest.raises(tw.InvalidArgumentError):
        tw.Connection("message", "client", "s", "/").send("video", 1)
    with pytest.raises(tw.InvalidArgumentError):
        tw.TraceContext(tracestate="a=1")
    with pytest.raises(tw.InvalidTraceParentError):
        tw.TraceParent("0" * 32, "00f067aa0ba902b7")
    with pytest.raises(tw.InvalidBaggageError):
        tw.Baggage().insert("bad key", "v")
    with pytest.raises(tw.InvalidEnvelopeError):
        tw.TraceContext.from_carrier(b"\xf5TW\x01")
    with pytest.raises(tw.UnsupportedEnvelopeVersionError):
        tw.TraceContext.from_carrier(b"\xf5TW\x01\x00")
    with pytest.raises(tw.InvalidUrlError):
        tw.Target.from_url("http://example.com/chat")
    with pytest.raises(tw.InvalidArgumentError):
        tw.Target.from_request("https", "example.com", "/chat")
    with pytest.raises(tw.InvalidUrlError):  # before any connection attempt
        asyncio.run(_open("example.com/chat"))
    with pytest.raises(tw.NotJsonObjectError):
        tw.JsonEnvelope().inject("[1,2]", tw.TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))


def test_nothing_lost_on_bad_frames() -> None:
    env = tw.JsonEnvelope()
    for frame in ['{"tracewire":{"traceparent": 7}, "x": 1}', '{"tracewire":{"traceparent":"00-zz"},"x":1}']:
        d = env.extract(frame)
        assert d.is_malformed and d.payload == frame and isinstance(d.error, tw.Error)
    # Not well-formed JSON: no envelope, delivered as it came.
    broken = '{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "x": '
    d = env.extract(broken)
    assert d.status == "plain" and d.payload == broken
    for frame in [b"\xf5TW\x02\x00\x20\x01abc", b"\xf5TW\x02\x00\x07\x09payload", b"\xf5TW\x02\x00\x07\x80"]:
        d = tw.decode_binary(frame)
        assert d.is_malformed and d.payload == frame
        assert isinstance(d.error, tw.InvalidEnvelopeError)
    # A later version is skipped by its length: the payload is delivered.
    d = tw.decode_binary(b"\xf5TW\x03\x00\x08xxaudio")
    assert d.is_malformed and d.payload == b"audio"
    assert isinstance(d.error, tw.UnsupportedEnvelopeVersionError)
    # garbage of every kind decodes without raising
    import random

    rng = random.Random(7)
    for _ in range(2000):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
        if rng.random() < 0.5:
            raw = b"\xf5TW" + raw
        d = tw.decode_binary(raw)
        assert d.payload == raw or d.is_enveloped
        text = raw.decode("latin-1")
        assert env.extract(text).payload in (text,) or env.extract(text).is_enveloped


def test_value_types_behave_like_python_values() -> None:
    tp = tw.TraceParent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", flags=3)
    assert tp.sampled and tp.random and tp.flags == 3
    assert {tp, tw.TraceParent.parse(str(tp))} == {tp}
    ts = tw.TraceState([("a", "1"), ("b", "2")])
    assert list(ts) == ["a", "b"] and ts["a"] == "1" and "b" in ts
    ts.insert("b", "3")
    assert ts.to_header() == "b=3,a=1"
    with pytest.raises(KeyError):
        ts["zz"]
    bag = tw.Baggage({"user": "alice smith", "n": "1"})
    assert bag.to_header() == "user=alice%20smith,n=1"
    bag.insert("k", "v", [("ttl", "30"), ("flag", None)])
    assert bag.members()[-1].properties == [("ttl", "30"), ("flag", None)]
    assert bag.remove("n") == tw.BaggageMember("n", "1")
    ctx = tw.TraceContext(tp, ts, bag)
    assert ctx.trace_id == tp.trace_id and ctx.span_id == tp.span_id and ctx.flags == 3
    assert ctx and not tw.TraceContext() and tw.TraceContext().is_empty
    assert tw.TraceContext.from_carrier(ctx.to_carrier()) == tw.TraceContext(tp, ts, bag, remote=True)
    assert eval(repr(tp), {"TraceParent": tw.TraceParent}) == tp
    e = tw.Envelopes(json=True)
    assert (e | tw.Envelopes(binary=True)) == tw.Envelopes.ALL
    assert (e & tw.Envelopes.ALL) == e and not tw.Envelopes.NONE
    assert repr(tw.Envelopes.ALL) == "Envelopes(json=True, binary=True)"


def test_large_frames_round_trip() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: copied with the interpreter released
    ctx = tw.TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    frame = tw.encode_binary(payload, ctx)
    assert len(frame) == len(payload) + 32
    d = tw.decode_binary(frame)
    assert d.payload == payload and d.context == tw.TraceContext(ctx.traceparent, remote=True)


def test_large_json_frames_round_trip() -> None:
    import json

    big = json.dumps({"text": "x" * 200_000, "n": list(range(1000))})
    ctx = tw.TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", baggage="k=v")
    env = tw.JsonEnvelope("", strip=True)
    frame = env.inject(big, ctx)
    d = env.extract(frame)
    assert d.is_enveloped and d.payload == big
    assert d.context is not None and d.context.baggage.get("k") == "v"


def test_inject_replaces_existing_lines_in_every_carrier() -> None:
    from websockets.datastructures import Headers

    ctx = tw.TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", baggage="k=v")
    old = "00-11111111111111111111111111111111-2222222222222222-01"
    h = Headers([("traceparent", old), ("traceparent", old), ("Host", "x")])
    tw.inject(ctx, h)
    assert h.get_all("traceparent") == [str(ctx.traceparent)] and h["baggage"] == "k=v" and h["host"] == "x"
    pairs = [("TraceParent", old), ("other", "1")]
    tw.inject(ctx, pairs)
    assert pairs == [("other", "1"), ("traceparent", str(ctx.traceparent)), ("baggage", "k=v")]
    d = {"traceparent": old}
    tw.inject(ctx, d)
    assert d["traceparent"] == str(ctx.traceparent)
    # and extraction reads every shape, multi-line values included
    assert tw.extract({"tracestate": ["a=1", "b=2"], "traceparent": old})[0].tracestate.items() == [("a", "1"), ("b", "2")]
