"""Helpers for the tests: the environment of a service subprocess and span
lookups by parent."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from opentelemetry.sdk.trace import ReadableSpan

SERVICES_DIR = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def service_env(**variables: str) -> Dict[str, str]:
    """This process's environment without any demo or OTel setting, plus
    ``variables`` (so a developer's shell cannot change the outcome)."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "TRACEWIRE_", "DEMO_"))
    }
    env.update(variables)
    return env


def command(script: str, *args: str) -> List[str]:
    """The command line running ``script`` (``tts.py``, ``device.py``)."""
    return [PYTHON, str(SERVICES_DIR / script), *args]


def attributes(span: ReadableSpan) -> Dict[str, Any]:
    """The span's attributes as a plain dict (values typed loosely for tests)."""
    return dict(span.attributes or {})


def span_id(span: ReadableSpan) -> int:
    """The span's id (``ReadableSpan.context`` is optional in its type)."""
    assert span.context is not None
    return int(span.context.span_id)


def trace_id(span: ReadableSpan) -> int:
    """The span's trace id."""
    assert span.context is not None
    return int(span.context.trace_id)


def parent_id(span: ReadableSpan) -> Optional[int]:
    """The parent's span id, ``None`` for a root."""
    return None if span.parent is None else span.parent.span_id


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan, name: Optional[str] = None) -> List[ReadableSpan]:
    """The children of ``parent`` (called ``name``, if given), by start time."""
    found = [s for s in spans if parent_id(s) == span_id(parent) and (name is None or s.name == name)]
    return sorted(found, key=lambda s: s.start_time or 0)


def by_id(spans: Sequence[ReadableSpan], wanted: Optional[int]) -> ReadableSpan:
    """The span with id ``wanted``."""
    [span] = [s for s in spans if span_id(s) == wanted]
    return span
