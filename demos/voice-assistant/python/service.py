"""What the demo's Python services share: tracing from the standard
``OTEL_*`` environment, the tracing model, pacing, the READY line and a
clean stop on SIGTERM/SIGINT. The contract is in demos/README.md."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Callable, Coroutine

from opentelemetry import trace

MODELS = ("connection", "message")


class StartupError(Exception):
    """The service cannot start; the message says why."""


def model() -> str:
    """The tracing model from ``TRACEWIRE_MODEL`` (default ``connection``)."""
    value = os.environ.get("TRACEWIRE_MODEL", "connection").strip()
    if value not in MODELS:
        raise StartupError(f"TRACEWIRE_MODEL={value!r}: expected one of {', '.join(MODELS)}")
    return value


def pace() -> float:
    """``DEMO_PACE``: multiplies every simulated delay (0: none)."""
    raw = os.environ.get("DEMO_PACE", "1.0")
    try:
        value = float(raw)
    except ValueError:
        raise StartupError(f"DEMO_PACE={raw!r}: expected a number") from None
    if value < 0:
        raise StartupError(f"DEMO_PACE={raw!r}: must not be negative")
    return value


def setup_tracing(default_name: str) -> Callable[[], None]:
    """Installs the SDK with OTLP/HTTP export unless OTEL_SDK_DISABLED=true.

    Returns the shutdown function (flushes, bounded by the exporter timeout).
    """
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return lambda: None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    os.environ.setdefault("OTEL_SERVICE_NAME", default_name)
    resource = Resource.create().merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=5)))
    trace.set_tracer_provider(provider)
    return provider.shutdown


def ready(url: str) -> None:
    """Tells the runner the service accepts connections."""
    print(f"READY {url}", flush=True)


def log(name: str, message: str) -> None:
    print(f"{name}: {message}", file=sys.stderr, flush=True)


async def until_stopped() -> None:
    """Returns on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def run(name: str, body: Callable[[], Coroutine[object, object, int]]) -> int:
    """Runs ``body`` with tracing set up and shut down around it; a startup
    problem is reported as one line on stderr and a non-zero exit code."""
    shutdown = setup_tracing(name)
    try:
        return asyncio.run(body())
    except StartupError as exc:
        log(name, str(exc))
        return 2
    except OSError as exc:
        log(name, f"cannot start: {exc}")
        return 1
    finally:
        shutdown()
