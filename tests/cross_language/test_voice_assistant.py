"""The voice assistant end to end: Python, Rust, Go and Java in one trace.

Runs demos/voice-assistant/run.py (the real services over loopback WebSocket,
each exporting over OTLP/HTTP) in both tracing models against two backends,
and checks the traces each holds afterwards (the queue hop through Redis
included: run.py starts its own redis-server):

- ``receiver``: the demo's own OTLP receiver, from the file it writes;
- ``jaeger``: a real Jaeger v2 (built by ``make -C demos jaeger``), pointed to
  with ``OTEL_EXPORTER_OTLP_ENDPOINT`` as a user would, read back through its
  query API. Jaeger takes traces only, so this also checks that every service
  shrugs off the metrics it rejects;
- ``zero-code``: the receiver, with ``AGENT=1``: llm runs as plain Jakarta
  code under the OpenTelemetry Java agent with tracewire's extension, tts as
  a plain FastAPI app under ``opentelemetry-instrument``; the same checks but
  the stream metrics of those two, which their plain code does not record.

Expected chunk counts follow from the contract in demos/README.md. The
gateway does not trust the device (docs/PROTOCOL.md, Security
Considerations): the device's context appears on the gateway's spans only as
a link, its baggage reaches nothing past the gateway's edge, and the gateway
records a session id of its own; the upstream hops are trusted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "demos" / "voice-assistant" / "run.py"
sys.path.insert(0, str(ROOT / "demos" / "jaeger"))

import jaeger  # noqa: E402  (beside the demo, not a package)

BACKENDS = ("receiver", "jaeger", "zero-code")
# The services that run without tracewire code in the zero-code backend.
ZERO_CODE = {"llm", "tts"}
TURNS = 3
AUDIO_CHUNKS_IN = 25
# Words of the stand-in answers to the three utterances; tts makes 3 audio
# chunks per word.
ANSWER_WORDS = [12, 7, 3]
SERVICES = {"device", "gateway", "asr", "llm", "tts", "archive"}
# The services the gateway calls over WebSocket.
UPSTREAM = {"asr", "llm", "tts"}
# What the device puts in its baggage, and what the gateway puts in its own
# for the upstream services (demos/README.md).
DEVICE_BAGGAGE = "user.id"
GATEWAY_BAGGAGE = "gateway.session.id"
# The Redis list between the gateway and the archive worker.
QUEUE = "voice-assistant.archive"
LANGUAGES = {"python", "rust", "go", "java"}

Span = Dict[str, object]


def run_demo(model: str, out: Path, env: Dict[str, str]) -> str:
    """Runs the demo; its stdout."""
    result = subprocess.run(
        [sys.executable, str(RUN), "--model", model, "--turns", str(TURNS),
         "--pace", "0.25", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, f"run.py failed:\n{result.stderr}"
    return result.stdout


class Traces(List[dict]):
    """A run's traces, and whether llm and tts ran as zero-code services."""

    zero_code = False


def traces_in_receiver(model: str, out: Path, zero_code: bool = False) -> List[dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("OTEL_EXPORTER_OTLP_ENDPOINT", "AGENT")}
    if zero_code:
        env["AGENT"] = "1"
    stdout = run_demo(model, out, env)
    # The summary line names every language.
    assert all(language in stdout for language in LANGUAGES), stdout
    traces = json.loads(out.read_text())["traces"]
    # The receiver's HTML trace view (tested in demos/collector/tests) holds
    # the run's traces, and run.py ends with its path.
    page = out.with_suffix(".html")
    assert stdout.rstrip().endswith(f"trace view: {page}"), stdout
    view = page.read_text()
    assert all(f'"{t["trace_id"]}"' in view for t in traces)
    return traces


def traces_in_jaeger(model: str, out: Path) -> List[dict]:
    backend = jaeger.Jaeger(jaeger.free_ports(jaeger.STANDARD_PORTS), log_path=out.parent / "jaeger.log")
    try:
        backend.wait_ready()
        since = time.time() - 1
        run_demo(model, out, {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": backend.otlp_endpoint})
        assert not out.exists(), "the demo's receiver ran although an endpoint was given"
        # Every service has exported and exited; Jaeger stores what it got
        # within its batch timeout. Read until the span count holds still.
        traces: List[dict] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            previous = sum(len(t["spans"]) for t in traces)
            traces = backend.all_traces(SERVICES, since)
            if traces and sum(len(t["spans"]) for t in traces) == previous:
                break
            time.sleep(1)
        spans = [s for t in traces for s in t["spans"]]
        print(f"jaeger, {model} model: {len(traces)} traces, {len(spans)} spans,"
              f" services {sorted({s['service'] for s in spans})},"
              f" languages {sorted({s['language'] for s in spans})}")
        return traces
    finally:
        backend.stop()


def traces_of(backend: str, model: str, factory: pytest.TempPathFactory) -> Traces:
    out = factory.mktemp(f"{backend}-{model}") / "traces.json"
    if backend == "jaeger":
        traces = Traces(traces_in_jaeger(model, out))
    else:
        traces = Traces(traces_in_receiver(model, out, zero_code=backend == "zero-code"))
    traces.zero_code = backend == "zero-code"
    return traces


@pytest.fixture(scope="module", params=BACKENDS)
def connection_traces(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Traces:
    return traces_of(request.param, "connection", tmp_path_factory)


@pytest.fixture(scope="module", params=BACKENDS)
def message_traces(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Traces:
    return traces_of(request.param, "message", tmp_path_factory)


def named(spans: Iterable[Span], service: str, name: str) -> List[Span]:
    return [s for s in spans if s["service"] == service and s["name"] == name]


def turn_of(span: Span) -> int:
    return int(span["attributes"]["demo.turn"])  # type: ignore[index]


def by_turn(spans: Iterable[Span], service: str, name: str) -> Dict[int, Span]:
    found = named(spans, service, name)
    turns = {turn_of(s): s for s in found}
    assert sorted(turns) == list(range(1, TURNS + 1)), f"{service} {name}: turns {sorted(turns)}"
    assert len(found) == TURNS
    return turns


def check_parents_present(spans: List[Span]) -> None:
    ids = {s["span_id"] for s in spans}
    orphans = [(s["service"], s["name"]) for s in spans
               if s["parent_span_id"] is not None and s["parent_span_id"] not in ids]
    assert not orphans, f"spans whose parent is not in the trace: {orphans[:10]}"


def from_device(span: Span) -> bool:
    """The gateway's process span of a message from the (untrusted) device."""
    return span["service"] == "gateway" and span["name"] == "process /voice"


def check_hops(spans: List[Span]) -> None:
    """Each process span of a trusted hop is a child of the peer's send span
    for that message (the device's are checked by check_untrusted_device)."""
    ids = {s["span_id"]: s for s in spans}
    processes = [s for s in spans if s["kind"] == "consumer" and not from_device(s)]
    assert processes
    for process in processes:
        parent = ids[process["parent_span_id"]]
        assert parent["kind"] == "producer", (process["name"], parent["name"])
        assert parent["name"].startswith("send "), parent["name"]
        assert parent["service"] != process["service"]
        # Same channel: `process /asr` under `send /asr`.
        assert parent["name"].split(" ", 1)[1] == process["name"].split(" ", 1)[1]


def stream(span: Span) -> Dict[str, float]:
    attrs = span["attributes"]
    first = attrs.get("tracewire.stream.time_to_first_chunk",
                      attrs.get("gen_ai.response.time_to_first_chunk"))
    return {
        "count": attrs["tracewire.stream.chunk_count"],
        "bytes": attrs["tracewire.stream.bytes"],
        "first": first,
        "last": attrs["tracewire.stream.time_to_last_chunk"],
    }


def check_streams(spans: List[Span], zero_code: bool = False) -> None:
    """Stream metrics agree across services and with what the contract sends
    (zero_code: but for llm's and tts's, which their plain code does not
    record)."""
    device = by_turn(spans, "device", "answer audio")
    gateway_tts = by_turn(spans, "gateway", "text_to_speech tts")
    tts = by_turn(spans, "tts", "synthesize")
    asr = by_turn(spans, "asr", "transcribe")
    gateway_chat = by_turn(spans, "gateway", "chat stand-in-llm")
    llm = by_turn(spans, "llm", "chat stand-in-llm")
    for turn in range(1, TURNS + 1):
        words = ANSWER_WORDS[(turn - 1) % len(ANSWER_WORDS)]
        measured = [s for s in (device[turn], gateway_tts[turn], tts[turn], asr[turn],
                                gateway_chat[turn], llm[turn])
                    if not (zero_code and s["service"] in ZERO_CODE)]
        for span in (device[turn], gateway_tts[turn], tts[turn]):
            if span in measured:
                assert stream(span)["count"] == 3 * words, (span["service"], span["name"], turn)
                assert stream(span)["bytes"] == 3 * words * 640
        assert stream(asr[turn])["count"] == AUDIO_CHUNKS_IN
        assert stream(asr[turn])["bytes"] == AUDIO_CHUNKS_IN * 640
        for span in (gateway_chat[turn], llm[turn]):
            if span in measured:
                assert stream(span)["count"] == words, (span["service"], turn)
                assert "gen_ai.response.time_to_first_chunk" in span["attributes"]
            # The attributes the GenAI conventions require on a chat span.
            assert span["attributes"]["gen_ai.operation.name"] == "chat"
            assert span["attributes"]["gen_ai.provider.name"] == "tracewire-demo"
        for span in measured:
            metrics = stream(span)
            assert 0 < metrics["first"] <= metrics["last"], (span["service"], span["name"])


def check_agent_shape(spans: List[Span]) -> None:
    """The gateway's turn is an invoke_agent span over its three model calls."""
    agent = by_turn(spans, "gateway", "invoke_agent voice-assistant")
    for name in ("speech_to_text asr", "chat stand-in-llm", "text_to_speech tts"):
        for turn, span in by_turn(spans, "gateway", name).items():
            assert span["parent_span_id"] == agent[turn]["span_id"], name
    for span in agent.values():
        assert span["attributes"]["gen_ai.operation.name"] == "invoke_agent"


def check_thread_pool_hop(spans: List[Span]) -> None:
    """llm answers on a worker thread, under the process span of the request."""
    ids = {s["span_id"]: s for s in spans}
    for span in by_turn(spans, "llm", "chat stand-in-llm").values():
        assert str(span["attributes"]["thread.name"]).startswith("llm-worker-")
        parent = ids[span["parent_span_id"]]
        assert (parent["service"], parent["name"], parent["kind"]) == ("llm", "process /llm", "consumer")


def over_websocket(span: Span) -> bool:
    """Whether the span is one of tracewire's WebSocket message spans (the
    archive's Redis spans use the same messaging conventions)."""
    return span["attributes"].get("messaging.system") == "websocket"  # type: ignore[union-attr]


def check_queue_hop(spans: List[Span]) -> None:
    """Each turn's job crosses Redis: the gateway's send span (PRODUCER,
    under the turn's invoke_agent) is the parent of the archive worker's
    process span (CONSUMER, Python), restored from the carrier in the job,
    which also links to it as the messaging conventions ask."""
    agent = by_turn(spans, "gateway", "invoke_agent voice-assistant")
    sends = by_turn(spans, "gateway", f"send {QUEUE}")
    processes = by_turn(spans, "archive", f"process {QUEUE}")
    for turn in range(1, TURNS + 1):
        send, process = sends[turn], processes[turn]
        assert (send["kind"], process["kind"]) == ("producer", "consumer")
        assert send["parent_span_id"] == agent[turn]["span_id"]
        assert process["parent_span_id"] == send["span_id"]
        assert process["trace_id"] == send["trace_id"]
        assert [(link["trace_id"], link["span_id"]) for link in process["links"]] == [
            (send["trace_id"], send["span_id"])]
        assert process["language"] == "python"
        for span, operation in ((send, "send"), (process, "process")):
            attributes = span["attributes"]
            assert attributes["messaging.system"] == "redis"
            assert attributes["messaging.operation.type"] == operation
            assert attributes["messaging.destination.name"] == QUEUE
        assert send["attributes"]["messaging.message.body.size"] == process["attributes"]["messaging.message.body.size"]
        assert int(process["start_unix_nano"]) >= int(send["start_unix_nano"])


def check_clean_ends(spans: Iterable[Span]) -> None:
    """No span failed, and every connection closed normally."""
    failed = [(s["service"], s["name"], s["status"]) for s in spans if s["status"]["code"] == "error"]
    assert not failed, failed
    for span in spans:
        if "websocket.close.code" in span["attributes"]:
            assert span["attributes"]["websocket.close.code"] == 1000, (span["service"], span["name"])


def check_untrusted_device(spans: List[Span]) -> None:
    """The device's context is only a link: every gateway span is in a trace
    of the gateway's own, and each of its process spans for a device message
    links to the device's send span in the device's trace. The gateway's
    session id for the device's connection is its own."""
    by_id = {s["span_id"]: s for s in spans}
    device_traces = {s["trace_id"] for s in spans if s["service"] == "device" and s["name"] == "turn"}
    assert len(device_traces) in (1, TURNS), device_traces
    gateway = [s for s in spans if s["service"] == "gateway"]
    assert not [s["name"] for s in gateway if s["trace_id"] in device_traces], "gateway spans in the device's trace"
    processes = [s for s in gateway if from_device(s)]
    assert len(processes) == TURNS * (AUDIO_CHUNKS_IN + 2)
    for process in processes:
        sends = [by_id.get(link["span_id"]) for link in process["links"]]
        sends = [s for s in sends if s is not None and s["service"] == "device"]
        assert len(sends) == 1, process["links"]
        [send] = sends
        assert (send["name"], send["kind"]) == ("send /voice", "producer")
        assert send["trace_id"] in device_traces
    [connect] = named(spans, "device", "connect /voice")
    [accept] = named(spans, "gateway", "accept /voice")
    assert [link["span_id"] for link in accept["links"]] == [connect["span_id"]]
    assert accept["trace_id"] != connect["trace_id"]
    assert accept["parent_span_id"] is None
    session = "websocket.session.id"
    assert accept["attributes"][session] != connect["attributes"][session], "the device chose the gateway's session id"


def check_baggage(spans: List[Span]) -> None:
    """The device's baggage stops at the gateway's edge; the gateway's own
    reaches every upstream service (each records the keys it got as
    demo.baggage)."""
    for turn in by_turn(spans, "device", "turn").values():
        assert turn["attributes"]["demo.baggage"] == DEVICE_BAGGAGE
    for agent in by_turn(spans, "gateway", "invoke_agent voice-assistant").values():
        assert agent["attributes"].get("demo.baggage", "") == ""
    for service, name in (("asr", "transcribe"), ("llm", "chat stand-in-llm"), ("tts", "synthesize")):
        for span in by_turn(spans, service, name).values():
            assert span["attributes"]["demo.baggage"] == GATEWAY_BAGGAGE, (service, span["attributes"])
    leaked = [(s["service"], s["name"]) for s in spans if s["service"] != "device"
              and any("u-42" in str(v) or DEVICE_BAGGAGE in str(v) for v in s["attributes"].values())]
    assert not leaked, leaked


def check_session_ids(spans: Iterable[Span]) -> None:
    for span in spans:
        if span["name"].split(" ")[0] in ("connect", "accept") or over_websocket(span):
            assert span["attributes"].get("websocket.session.id"), (span["service"], span["name"])


def root_names(spans: Iterable[Span]) -> List[tuple]:
    return [(s["service"], s["name"]) for s in spans if s["parent_span_id"] is None]


def connection_model_traces(traces: List[dict], languages: set) -> tuple:
    """The connection model's two traces, the device's and the gateway's
    (which holds every service in `languages`), checked: parents present,
    clean ends, the upstream connections and the device's process spans
    under the gateway's accept span. Returns (device spans, gateway spans)."""
    assert len(traces) == 2, [root_names(t["spans"]) for t in traces]
    [device] = [t["spans"] for t in traces if root_names(t["spans"]) == [("device", "connect /voice")]]
    [gateway] = [t["spans"] for t in traces if root_names(t["spans"]) == [("gateway", "accept /voice")]]
    assert {s["service"] for s in device} == {"device"}
    assert {s["service"] for s in gateway} == SERVICES
    assert {s["language"] for s in gateway} == languages
    for spans in (device, gateway):
        check_parents_present(spans)
        check_clean_ends(spans)
    # The gateway's upstream connections join the gateway's session trace.
    [accept] = named(gateway, "gateway", "accept /voice")
    for path in ("/asr", "/llm", "/tts"):
        [connect] = named(gateway, "gateway", f"connect {path}")
        assert connect["parent_span_id"] == accept["span_id"]
    for process in filter(from_device, gateway):
        assert process["parent_span_id"] == accept["span_id"]
    return device, gateway


def test_connection_model_is_one_trace_from_the_gateway_on(connection_traces: List[dict]) -> None:
    """Two traces: the device's session, and the gateway's (linked to it),
    which holds every upstream service and the device's process spans of the
    gateway's answers (the device trusts the gateway)."""
    device, _ = connection_model_traces(connection_traces, LANGUAGES)
    [root] = named(device, "device", "connect /voice")
    for turn in by_turn(device, "device", "turn").values():
        assert turn["parent_span_id"] == root["span_id"]


def test_connection_model_hops(connection_traces: List[dict]) -> None:
    spans = [s for t in connection_traces for s in t["spans"]]
    check_hops(spans)
    check_untrusted_device(spans)
    check_baggage(spans)
    check_agent_shape(spans)
    check_thread_pool_hop(spans)
    check_queue_hop(spans)
    check_session_ids(spans)


def test_connection_model_stream_metrics(connection_traces: Traces) -> None:
    check_streams([s for t in connection_traces for s in t["spans"]], connection_traces.zero_code)


def test_message_model_is_one_trace_per_turn_from_the_gateway_on(message_traces: List[dict]) -> None:
    """Per turn, the device's trace (its turn and sends) and the gateway's,
    rooted at the process span of the device's turn.start and linked to its
    send; the gateway reads the device's other messages of the turn inside
    the turn, so their process spans are children of its agent span (linked
    to their sends likewise), not traces of their own."""
    everything = [s for t in message_traces for s in t["spans"]]
    connections = {s["span_id"]: s for s in everything
                   if s["name"].split(" ")[0] in ("connect", "accept")}
    device_turns = [t["spans"] for t in message_traces if named(t["spans"], "device", "turn")]
    assert len(device_turns) == TURNS
    for spans in device_turns:
        [turn] = named(spans, "device", "turn")
        assert turn["parent_span_id"] is None, "a turn starts its own trace"
        assert {s["service"] for s in spans} == {"device"}
    turn_traces = [t for t in message_traces if named(t["spans"], "gateway", "invoke_agent voice-assistant")]
    assert len(turn_traces) == TURNS
    for trace in turn_traces:
        spans = trace["spans"]
        [root] = [s for s in spans if s["parent_span_id"] is None]
        assert from_device(root), "the gateway's turn starts at the device's turn.start"
        [agent] = named(spans, "gateway", "invoke_agent voice-assistant")
        assert agent["parent_span_id"] == root["span_id"]
        rest = [s for s in spans if from_device(s) and s is not root]
        assert len(rest) == AUDIO_CHUNKS_IN + 1
        assert all(s["parent_span_id"] == agent["span_id"] for s in rest)
        assert {s["service"] for s in spans} == SERVICES
        assert {s["language"] for s in spans} == LANGUAGES
        assert {turn_of(s) for s in spans if "demo.turn" in s["attributes"]} == {turn_of(agent)}
        check_parents_present(spans)
        check_hops(spans)
        check_session_ids(spans)
        # Every message span links to its connection's span, in another trace.
        for span in spans:
            if over_websocket(span):
                linked = [connections.get(link["span_id"]) for link in span["links"]]
                assert any(c is not None and c["service"] == span["service"] for c in linked), (
                    span["service"], span["name"])
    # No message of the device's is a trace of its own.
    lone = [root_names(t["spans"]) for t in message_traces
            if t not in turn_traces and any(from_device(s) for s in t["spans"])]
    assert not lone, lone
    check_untrusted_device(everything)
    check_baggage(everything)
    check_clean_ends(everything)
    # A close belongs to its connection's trace: a child of the connection
    # span of the same service, never a one-span trace of its own.
    closes = [s for s in everything if s["name"].startswith("close ")]
    assert closes
    for close in closes:
        parent = connections.get(close["parent_span_id"])
        assert parent is not None and parent["service"] == close["service"], (close["service"], close["name"])
    singles = [t["spans"][0]["name"] for t in message_traces if len(t["spans"]) == 1]
    assert not [n for n in singles if n.startswith("close ")], singles
    # One device session: every device span has the same session id.
    sessions = Counter(s["attributes"]["websocket.session.id"] for s in everything
                       if s["service"] == "device" and "websocket.session.id" in s["attributes"])
    assert len(sessions) == 1, sessions


def test_message_model_agent_shape_and_streams(message_traces: Traces) -> None:
    spans = [s for t in message_traces for s in t["spans"]]
    check_agent_shape(spans)
    check_thread_pool_hop(spans)
    check_queue_hop(spans)
    check_streams(spans, message_traces.zero_code)
