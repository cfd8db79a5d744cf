"""The voice assistant with the browser device: five languages in one trace.

Runs demos/voice-assistant/run.py with ``DEVICE=browser`` in both tracing
models against the demo's receiver: the device is a page in headless
Chromium (demos/voice-assistant/browser) using the tracewire npm package over
the browser's WebSocket (query handshake, subprotocol offer) and exporting
its spans with the OpenTelemetry web SDK (OTLP/HTTP JSON, across origins, so
through the receiver's CORS answers). The checks are test_voice_assistant's
shape rules with the device's language ``webjs``: the gateway still does not
trust the device (its context only as links, its baggage dropped at the
edge), the device trusts the gateway (its spans of the answer join the
gateway's trace, which so holds five languages).

Needs what ``make -C demos build build-browser`` builds and Debian's
``chromium`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List

import pytest

from test_voice_assistant import (
    AUDIO_CHUNKS_IN,
    LANGUAGES,
    SERVICES,
    TURNS,
    check_agent_shape,
    check_baggage,
    check_clean_ends,
    check_hops,
    check_parents_present,
    check_queue_hop,
    check_session_ids,
    check_streams,
    check_thread_pool_hop,
    check_untrusted_device,
    connection_model_traces,
    from_device,
    named,
    root_names,
    run_demo,
)

BROWSER = "webjs"
# The device's language and the four of the services.
ALL_LANGUAGES = LANGUAGES | {BROWSER}


def traces_with_browser_device(model: str, out: Path) -> List[dict]:
    env = {k: v for k, v in os.environ.items() if k != "OTEL_EXPORTER_OTLP_ENDPOINT"}
    stdout = run_demo(model, out, {**env, "DEVICE": "browser"})
    # run.py counted a TURN line per turn (else it fails); its summary names the page's SDK.
    assert f"device/{BROWSER}" in stdout, stdout
    assert f"{TURNS} turns" in stdout, stdout
    return json.loads(out.read_text())["traces"]


@pytest.fixture(scope="module")
def connection_traces(tmp_path_factory: pytest.TempPathFactory) -> List[dict]:
    return traces_with_browser_device("connection", tmp_path_factory.mktemp("browser-connection") / "traces.json")


@pytest.fixture(scope="module")
def message_traces(tmp_path_factory: pytest.TempPathFactory) -> List[dict]:
    return traces_with_browser_device("message", tmp_path_factory.mktemp("browser-message") / "traces.json")


def check_device_is_the_page(spans: List[Dict[str, object]]) -> None:
    """Every device span comes from the browser's SDK; no other service is webjs."""
    device = [s for s in spans if s["service"] == "device"]
    assert device and all(s["language"] == BROWSER for s in device)
    assert all(s["language"] != BROWSER for s in spans if s["service"] != "device")
    # The page's connection: its query handshake was read and it closed normally.
    [connect] = named(spans, "device", "connect /voice")
    assert connect["kind"] == "client"


def test_connection_model_one_gateway_trace_across_five_languages(connection_traces: List[dict]) -> None:
    device, gateway = connection_model_traces(connection_traces, ALL_LANGUAGES)
    assert {s["language"] for s in device} == {BROWSER}
    # The page's spans of the gateway's answer joined the gateway's trace.
    answers = named(gateway, "device", "process /voice")
    assert answers and all(s["language"] == BROWSER for s in answers)
    [root] = named(device, "device", "connect /voice")
    turns = named(device, "device", "turn")
    assert len(turns) == TURNS and all(t["parent_span_id"] == root["span_id"] for t in turns)
    spans = device + gateway
    check_device_is_the_page(spans)
    check_hops(spans)  # includes the page's process spans under the gateway's sends
    check_untrusted_device(spans)
    check_baggage(spans)
    check_agent_shape(spans)
    check_thread_pool_hop(spans)
    check_queue_hop(spans)
    check_session_ids(spans)
    check_streams(spans)


def test_message_model_one_gateway_trace_per_turn(message_traces: List[dict]) -> None:
    everything = [s for t in message_traces for s in t["spans"]]
    check_device_is_the_page(everything)
    device_turns = [t["spans"] for t in message_traces if named(t["spans"], "device", "turn")]
    assert len(device_turns) == TURNS
    for spans in device_turns:
        [turn] = named(spans, "device", "turn")
        assert turn["parent_span_id"] is None, "a turn starts its own trace"
        assert {(s["service"], s["language"]) for s in spans} == {("device", BROWSER)}
    turn_traces = [t["spans"] for t in message_traces if named(t["spans"], "gateway", "invoke_agent voice-assistant")]
    assert len(turn_traces) == TURNS
    for spans in turn_traces:
        [root] = [s for s in spans if s["parent_span_id"] is None]
        assert from_device(root), "the gateway's turn starts at the page's turn.start"
        [agent] = named(spans, "gateway", "invoke_agent voice-assistant")
        assert agent["parent_span_id"] == root["span_id"]
        rest = [s for s in spans if from_device(s) and s is not root]
        assert len(rest) == AUDIO_CHUNKS_IN + 1
        assert all(s["parent_span_id"] == agent["span_id"] for s in rest)
        assert {s["service"] for s in spans} == SERVICES
        assert {s["language"] for s in spans} == ALL_LANGUAGES
        check_parents_present(spans)
        check_hops(spans)
        check_session_ids(spans)
    lone = [root_names(t["spans"]) for t in message_traces
            if t["spans"] not in turn_traces and any(from_device(s) for s in t["spans"])]
    assert not lone, lone
    check_untrusted_device(everything)
    check_baggage(everything)
    check_clean_ends(everything)
    check_agent_shape(everything)
    check_thread_pool_hop(everything)
    check_queue_hop(everything)
    check_streams(everything)
