"""Shared fixtures. Tests import the *installed* wheel (``make test`` runs
pytest from this directory, where no ``tracewire`` source package exists)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

VECTORS = Path(os.environ.get("TRACEWIRE_VECTORS", Path(__file__).resolve().parents[2] / "tests" / "vectors"))


def vector_cases(name: str) -> List[Dict[str, Any]]:
    """The cases of ``tests/vectors/<name>.json``."""
    with open(VECTORS / f"{name}.json", encoding="utf-8") as f:
        cases: List[Dict[str, Any]] = json.load(f)["cases"]
    assert cases, f"{name}: no cases"
    return cases


def vector_params(name: str) -> Any:
    return [pytest.param(c, id=c["name"]) for c in vector_cases(name)]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    p = TracerProvider()
    p.add_span_processor(SimpleSpanProcessor(exporter))
    return p


@pytest.fixture
def tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer("tests")
