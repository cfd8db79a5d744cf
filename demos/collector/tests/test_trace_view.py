"""The receiver's HTML trace view, drawn by a real headless Chromium.

The receiver (target/debug/collector) gets real OTLP/HTTP exports from the
OpenTelemetry Python SDK: a turn shaped like the voice assistant's, four
services each with its own tracer provider, whose resource names the language
the service has in the demo (`telemetry.sdk.language`). Stopped, it writes
traces.json and the page beside it; Chromium (`--headless`, driven over the
DevTools protocol on a loopback port) opens the page from file:// and the test
checks what the page's script drew and clicks through it with real mouse
events. A screenshot goes to target/demo/trace-view.png.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import websockets
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
COLLECTOR = TARGET / "debug" / "collector"
OUT = TARGET / "demo" / "trace-view.json"
PAGE = OUT.with_suffix(".html")
SCREENSHOT = TARGET / "demo" / "trace-view.png"
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
SENDS = 27
# What the receiver must not let end its <script> early: an attribute value
# the page shows as text.
HOSTILE = "</script><script>document.title='broken'</script><!--"
TIMEOUT_S = 60


def chromium() -> str:
    path = shutil.which(CHROMIUM)
    if path is None:
        pytest.fail(
            f"{CHROMIUM!r} not found: the trace view test draws the page in headless Chromium."
            " Install it with `sudo apt-get install chromium` (Debian; .ci/run does this),"
            " or point CHROMIUM at a Chromium or Chrome binary."
        )
    return path


def export_turn(endpoint: str) -> None:
    """A turn as the demo's services record it, exported over OTLP/HTTP."""
    base = time.time_ns()

    def at(ms: float) -> int:
        return base + int(ms * 1e6)

    providers = {}

    def tracer(service: str, language: str) -> trace.Tracer:
        provider = TracerProvider(resource=Resource.create(
            {"service.name": service, "telemetry.sdk.language": language}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
        providers[service] = provider
        return provider.get_tracer("trace-view-test")

    device, gateway = tracer("device", "python"), tracer("gateway", "rust")
    asr, llm = tracer("asr", "go"), tracer("llm", "java")

    def span(tracer_: trace.Tracer, name: str, start: float, end: float, parent=None,
             kind=SpanKind.INTERNAL, links=(), attributes=None, status=None):
        context = trace.set_span_in_context(parent) if parent is not None else None
        s = tracer_.start_span(name, context=context, kind=kind, links=list(links),
                               attributes={"demo.turn": 1, **(attributes or {})}, start_time=at(start))
        if status is not None:
            s.set_status(status)
        s.end(end_time=at(end))
        return s

    # The device's trace: its connection, the turn, the sends, the answer.
    connect = device.start_span("connect /voice", kind=SpanKind.CLIENT, start_time=at(0))
    turn = device.start_span("turn", context=trace.set_span_in_context(connect), start_time=at(11.6),
                             attributes={"demo.turn": 1, "demo.baggage": "user.id"})
    sends = [span(device, "send /voice", 11.7 + 18.5 * i, 12.2 + 18.5 * i, turn, SpanKind.PRODUCER,
                  attributes={"messaging.operation.type": "send"}) for i in range(SENDS)]
    answer = device.start_span("answer audio", context=trace.set_span_in_context(turn), start_time=at(513.8),
                               attributes={"note": HOSTILE})
    answer.add_event("tracewire.stream.first_chunk", {"bytes": 640}, timestamp=at(513.8 + 332.3))
    answer.set_attributes({"tracewire.stream.chunk_count": 36, "tracewire.stream.time_to_first_chunk": 0.3323,
                           "tracewire.stream.time_to_last_chunk": 0.8448})
    answer.end(end_time=at(1359.4))
    turn.end(end_time=at(1359.4))
    connect.end(end_time=at(1363.0))

    # The gateway's trace: it links to the device's spans, it does not take
    # them as parents.
    accept = gateway.start_span("accept /voice", kind=SpanKind.SERVER, start_time=at(0.2),
                                links=[Link(connect.get_span_context(), {"tracewire.link": "peer"})])
    for i, send in enumerate(sends):
        span(gateway, "process /voice", 12.0 + 18.5 * i, 12.6 + 18.5 * i, accept, SpanKind.CONSUMER,
             links=[Link(accept.get_span_context()), Link(send.get_span_context())])
    agent = gateway.start_span("invoke_agent voice-assistant", context=trace.set_span_in_context(accept),
                               start_time=at(48.2), attributes={"gen_ai.operation.name": "invoke_agent"})
    stt = span(gateway, "speech_to_text asr", 48.2, 603.5, agent,
               attributes={"tracewire.stream.chunk_count": 3, "tracewire.stream.time_to_first_chunk": 0.1639,
                           "tracewire.stream.time_to_last_chunk": 0.5553})
    for i in range(3):
        send = span(gateway, "send /asr", 50 + 150 * i, 51 + 150 * i, stt, SpanKind.PRODUCER)
        span(asr, "process /asr", 52 + 150 * i, 60 + 150 * i, send, SpanKind.CONSUMER)
    chat = gateway.start_span("chat stand-in-llm", context=trace.set_span_in_context(agent), start_time=at(603.7),
                              attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "stand-in-llm"})
    request = span(gateway, "send /llm", 603.7, 603.8, chat, SpanKind.PRODUCER)
    process = span(llm, "process /llm", 617.2, 636.7, request, SpanKind.CONSUMER)
    span(llm, "chat stand-in-llm", 638.1, 1178.9, process,
         attributes={"thread.name": "llm-worker-1", "gen_ai.request.model": "stand-in-llm"})
    chat.set_attributes({"tracewire.stream.chunk_count": 12, "gen_ai.response.time_to_first_chunk": 0.1958,
                         "tracewire.stream.time_to_last_chunk": 0.5719})
    chat.end(end_time=at(1177.3))
    span(gateway, "send voice-assistant.archive", 1359.1, 1361.3, agent, SpanKind.PRODUCER,
         status=Status(StatusCode.ERROR, "redis did not answer"), attributes={"error.type": "redis_error"})
    agent.end(end_time=at(1355.4))
    accept.end(end_time=at(1357.9))

    for provider in providers.values():
        provider.shutdown()


def receive_and_render() -> List[str]:
    """Runs the receiver, exports the turn, stops it; its waterfall lines."""
    if not COLLECTOR.exists():
        pytest.fail(f"{COLLECTOR} is missing: build it with `make -C demos build-rust`"
                    " (cargo build -p tracewire-demo-collector)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    for stale in (OUT, PAGE, SCREENSHOT):
        stale.unlink(missing_ok=True)
    receiver = subprocess.Popen([COLLECTOR, "--listen", "127.0.0.1:0", "--out", OUT],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = receiver.stdout.readline().strip()
        assert ready.startswith("READY http://127.0.0.1:"), ready
        export_turn(ready[len("READY "):])
        receiver.send_signal(signal.SIGTERM)
        stdout, stderr = receiver.communicate(timeout=TIMEOUT_S)
    finally:
        receiver.kill()
    assert receiver.returncode == 0, stderr
    assert f"trace view in {PAGE}" in stderr, stderr
    return stdout.splitlines()


class DevTools:
    """A Chromium page over the DevTools protocol (one flat session)."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.next_id = 0
        self.pending: Dict[int, asyncio.Future] = {}
        self.exceptions: List[str] = []
        self.session: Optional[str] = None
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            reply = json.loads(message)
            if "id" in reply:
                self.pending.pop(reply["id"]).set_result(reply)
            elif reply.get("method") == "Runtime.exceptionThrown":
                self.exceptions.append(json.dumps(reply["params"]["exceptionDetails"]))

    async def send(self, method: str, **params: Any) -> Dict[str, Any]:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            message["sessionId"] = self.session
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.socket.send(json.dumps(message))
        reply = await future
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply["result"]

    async def eval(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, f"{expression}: {result['exceptionDetails']}"
        return result["result"].get("value")

    async def click(self, selector_expression: str) -> None:
        """A real mouse click on the element the expression finds, scrolled into view."""
        box = await self.eval(f"""(() => {{
            const node = {selector_expression};
            node.scrollIntoView({{block: "center"}});
            const r = node.getBoundingClientRect();
            return {{x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2}};
        }})()""")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"],
                            button="left", clickCount=1)


# A JS expression: the span rows the page shows (folded spans are not).
SHOWN = "[...document.querySelectorAll('.span-row')].filter(r => r.checkVisibility())"


def row_by_name(name: str, service: str = "") -> str:
    """A JS expression: the first shown row with this span name (and service)."""
    return (f"{SHOWN}.find(r =>"
            f" r.querySelector('.name').textContent === {json.dumps(name)}"
            f" && (!{json.dumps(service)} || r.dataset.service === {json.dumps(service)}))")


async def inspect_page(browser_url: str) -> Dict[str, Any]:
    """Opens the page, checks what it drew, clicks through it; the facts the
    test asserts on, gathered in order."""
    facts: Dict[str, Any] = {}
    async with websockets.connect(browser_url, max_size=None) as socket:
        cdp = DevTools(socket)
        target = await cdp.send("Target.createTarget", url="about:blank")
        cdp.session = (await cdp.send("Target.attachToTarget", targetId=target["targetId"], flatten=True))["sessionId"]
        await cdp.send("Runtime.enable")
        await cdp.send("Page.enable")
        await cdp.send("Emulation.setDeviceMetricsOverride", width=1500, height=1000, deviceScaleFactor=1, mobile=False)
        await cdp.send("Page.navigate", url=PAGE.as_uri())
        deadline = time.monotonic() + 20
        while await cdp.eval("document.body && document.body.dataset.ready") != "true":
            assert time.monotonic() < deadline, f"the page's script did not finish: {cdp.exceptions}"
            await asyncio.sleep(0.1)

        facts["title"] = await cdp.eval("document.title")
        facts["sections"] = await cdp.eval("[...document.querySelectorAll('section.trace')].map(s => s.id)")
        facts["rows"] = await cdp.eval("""[...document.querySelectorAll('section.trace')].map(s =>
            [...s.querySelectorAll('.span-row:not(.member)')].map(r => [r.querySelector('.name').textContent,
             (r.querySelector('.count') || {}).textContent || '', r.dataset.service]))""")
        facts["members"] = await cdp.eval("document.querySelectorAll('.span-row.member').length")
        facts["shown_members"] = await cdp.eval(f"{SHOWN}.filter(r => r.classList.contains('member')).length")
        facts["legend"] = await cdp.eval("""Object.fromEntries([...document.querySelectorAll('#legend li')].map(li =>
            [li.dataset.language, [li.querySelector('.services').textContent, getComputedStyle(li.querySelector('.swatch')).backgroundColor]]))""")
        facts["bar_colors"] = await cdp.eval("""Object.fromEntries([...document.querySelectorAll('.span-row:not(.member)')].map(r =>
            [r.dataset.service, getComputedStyle(r.querySelector('.bar')).backgroundColor]))""")
        facts["marks"] = await cdp.eval(f"""(() => {{ const r = {row_by_name('answer audio')};
            const lane = r.querySelector('.lane').getBoundingClientRect();
            return {{marks: [...r.querySelectorAll('.mark')].map(m => [m.className,
                       (m.getBoundingClientRect().left - lane.left) / lane.width]),
                     note: r.querySelector('.lane-note').textContent}}; }})()""")
        facts["error_rows"] = await cdp.eval("[...document.querySelectorAll('.badge.error')].map(b => b.closest('.row').querySelector('.name').textContent)")
        facts["axis"] = await cdp.eval("[...document.querySelector('.row.axis').querySelectorAll('.tick')].map(t => t.textContent)")

        # A span's details: attributes, events, links.
        facts["details_before"] = await cdp.eval("document.getElementById('details').hidden")
        await cdp.click(row_by_name("chat stand-in-llm", "llm"))
        facts["details"] = await cdp.eval("""(() => { const d = document.getElementById('details');
            return {hidden: d.hidden, text: d.innerText,
                    attributes: Object.fromEntries([...d.querySelectorAll('table.kv tr')].map(tr =>
                        [...tr.cells].map(c => c.textContent)))}; })()""")
        await cdp.click(row_by_name("answer audio"))
        facts["hostile"] = await cdp.eval("""[...document.querySelectorAll('#details table.kv tr')]
            .filter(tr => tr.cells[0].textContent === 'note').map(tr => tr.cells[1].textContent)""")
        facts["events"] = await cdp.eval("document.querySelector('#details ul.items').innerText")
        await cdp.click(row_by_name("chat stand-in-llm", "gateway"))
        facts["stream_note"] = await cdp.eval(f"""(() => {{ const r = {row_by_name('chat stand-in-llm', 'gateway')};
            const lane = r.querySelector('.lane').getBoundingClientRect();
            const note = r.querySelector('.lane-note').getBoundingClientRect();
            const n = r.querySelector('.lane-note');
            return {{text: n.scrollWidth, inside: note.left >= lane.left && note.right <= lane.right, whole: n.scrollWidth <= n.clientWidth,
                     lane: [lane.left, lane.right], note: [note.left, note.right], text: n.scrollWidth}}; }})()""")
        # The whole page from the top, as a person first sees it.
        await cdp.eval("window.scrollTo(0, 0)")
        metrics = await cdp.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = await cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                              clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))

        # A link in the details panel jumps to its target in the other trace.
        await cdp.click(row_by_name("accept /voice"))
        facts["accept_links"] = await cdp.eval("[...document.querySelectorAll('#details ul.links a')].map(a => a.textContent)")
        await cdp.click("document.querySelector('#details ul.links a')")
        facts["after_link"] = await cdp.eval("""(() => { const h = [...document.querySelectorAll('.highlight')];
            return {highlighted: h.map(r => [r.closest('section').id, r.querySelector('.name').textContent]),
                    selected: document.querySelector('.selected').querySelector('.name').textContent,
                    details: document.querySelector('#details h3').textContent}; })()""")

        # Unfolding a folded row shows each of its spans.
        await cdp.click(f"{row_by_name('send /voice')}.querySelector('.fold')")
        facts["unfolded"] = await cdp.eval(f"{SHOWN}.filter(r => r.classList.contains('member')).length")
        await cdp.click(f"{row_by_name('send /voice')}.querySelector('.fold')")
        facts["folded_again"] = await cdp.eval(f"{SHOWN}.filter(r => r.classList.contains('member')).length")

        # A row's link chip jumps into a folded row of the other trace: the
        # fold opens on the target span.
        await cdp.click(f"{row_by_name('process /voice')}.querySelector('a.chip')")
        facts["chip"] = await cdp.eval(f"""(() => {{ const h = document.querySelector('.highlight');
            const r = h.getBoundingClientRect();
            return {{chip: {row_by_name('process /voice')}.querySelector('a.chip').textContent,
                    name: h.querySelector('.name').textContent, member: h.classList.contains('member'),
                    section: h.closest('section').id, in_view: r.top >= 0 && r.bottom <= innerHeight,
                    shown_members: {SHOWN}.filter(r => r.classList.contains('member')).length}}; }})()""")
        facts["exceptions"] = cdp.exceptions
        facts["requests_outside"] = await cdp.eval(
            "performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('file:'))")
        cdp.reader.cancel()
    return facts


def open_in_chromium(binary: str) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trace-view-chromium-") as profile:
        log = open(Path(profile) / "stderr.log", "w+")
        browser = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=log)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and len(port_file.read_text().splitlines()) == 2):
                if browser.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"chromium did not open its DevTools port:\n{log.read()[-2000:]}")
                time.sleep(0.1)
            port, path = port_file.read_text().splitlines()
            return asyncio.run(asyncio.wait_for(inspect_page(f"ws://127.0.0.1:{port}{path}"), TIMEOUT_S))
        finally:
            browser.kill()
            browser.wait()
            log.close()


def test_trace_view_draws_a_real_turn(record_artifact) -> None:
    binary = chromium()
    waterfall = receive_and_render()
    data = json.loads(OUT.read_text())
    page = PAGE.read_text()
    # The data cannot end its <script> early: only the page's own two close tags.
    assert page.count("</script>") == 2, page.count("</script>")

    facts = open_in_chromium(binary)
    record_artifact("trace view page", PAGE)
    record_artifact("trace view screenshot", SCREENSHOT)
    assert facts["exceptions"] == []
    assert facts["requests_outside"] == []
    assert facts["title"] == "tracewire traces"

    # Each trace its own section, in the file's order.
    assert facts["sections"] == [f"trace-{t['trace_id']}" for t in data["traces"]]
    # The rows are the terminal waterfall's: one per line after each header.
    device_rows, gateway_rows = facts["rows"]
    terminal_rows = [line for line in waterfall if line and not line.startswith("trace ")]
    assert len(device_rows) + len(gateway_rows) == len(terminal_rows), (facts["rows"], waterfall)
    assert device_rows == [["connect /voice", "", "device"], ["turn", "", "device"],
                           ["send /voice", f"\u00d7{SENDS}", "device"], ["answer audio", "", "device"]]
    assert ["process /voice", f"\u00d7{SENDS}", "gateway"] in gateway_rows
    assert ["send /asr", "\u00d73", "gateway"] in gateway_rows
    assert ["process /asr", "\u00d73", "asr"] in gateway_rows
    # The folded rows' spans are drawn, hidden until unfolded.
    assert facts["members"] == 2 * SENDS + 3 + 3
    assert facts["shown_members"] == 0
    assert facts["axis"][:2] == ["0 ms", "200 ms"]

    # Colour by language, with the legend naming each language's services.
    legend = facts["legend"]
    assert {language: services for language, (services, _) in legend.items()} == {
        "go": "asr", "java": "llm", "python": "device", "rust": "gateway"}
    for service, language in {"device": "python", "gateway": "rust", "asr": "go", "llm": "java"}.items():
        assert facts["bar_colors"][service] == legend[language][1], (service, facts["bar_colors"], legend)
    assert len({color for _, color in legend.values()}) == 4

    # Stream marks at the first and last chunk: the answer's bar starts 513.8
    # ms into a trace of 1363.0 ms.
    marks = dict(facts["marks"]["marks"])
    assert abs(marks["mark first"] - (513.8 + 332.3) / 1363.0) < 0.01, marks
    assert abs(marks["mark last"] - (513.8 + 844.8) / 1363.0) < 0.01, marks
    assert facts["marks"]["note"] == "first 332.3 \u00b7 last 844.8 ms \u00b7 36 chunks"
    # Beside the bar, whole, within the lane (the details panel narrows it).
    assert facts["stream_note"]["inside"] and facts["stream_note"]["whole"], facts["stream_note"]
    assert facts["error_rows"] == ["send voice-assistant.archive"]

    # Clicking a span shows its details.
    assert facts["details_before"] is True
    details = facts["details"]
    assert details["hidden"] is False
    assert details["attributes"]["thread.name"] == "llm-worker-1"
    assert details["attributes"]["kind"] == "internal"
    assert details["attributes"]["status"] == "unset"
    assert "llm (java)" in details["text"]
    assert facts["hostile"] == [HOSTILE]
    assert "tracewire.stream.first_chunk at 332.3 ms" in facts["events"]
    assert facts["accept_links"] == [f"device connect /voice (trace {data['traces'][0]['trace_id'][:8]})"]

    # A link jumps across traces and highlights its target.
    device_section = f"trace-{data['traces'][0]['trace_id']}"
    assert facts["after_link"] == {"highlighted": [[device_section, "connect /voice"]],
                                   "selected": "connect /voice", "details": "connect /voice"}
    assert (facts["unfolded"], facts["folded_again"]) == (SENDS, 0)
    chip = facts["chip"]
    assert chip["chip"].startswith(f"\u2197 device send /voice \u00d7{SENDS}")
    assert (chip["name"], chip["member"], chip["section"]) == ("send /voice #1", True, device_section)
    assert chip["in_view"] and chip["shown_members"] == SENDS
