"""Capture and restore a context across queues, thread pools and stores.

A producer captures the current OpenTelemetry context as a few bytes (the
core's carrier: a binary envelope without payload) that any queue item or
job record can hold; the consumer restores it, possibly in another thread
or process, so its spans join the producer's trace.
"""

from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from ._native import TraceContext

__all__ = ["capture", "restore", "restored", "bind"]

T = TypeVar("T")


def capture(context: Optional[Context] = None) -> bytes:
    """Serialises the span context and baggage of ``context`` (default: the
    current OpenTelemetry context) into a small carrier."""
    return TraceContext.from_otel(context).to_carrier()


def restore(carrier: bytes, parent: Optional[Context] = None) -> Context:
    """The OpenTelemetry context a carrier describes, built on ``parent``
    (default: empty). Raises :class:`tracewire.InvalidEnvelopeError` for a
    malformed carrier."""
    return TraceContext.from_carrier(carrier).to_otel(parent)


@contextmanager
def restored(carrier: bytes) -> Iterator[Context]:
    """Makes the carrier's context current for the ``with`` block (on this
    thread or task; ``contextvars`` keeps it from leaking elsewhere)."""
    ctx = restore(carrier)
    token = otel_context.attach(ctx)
    try:
        yield ctx
    finally:
        otel_context.detach(token)


def bind(fn: Callable[..., T]) -> Callable[..., T]:
    """Returns a callable that runs ``fn`` in a copy of the *current*
    ``contextvars`` context (which holds the OpenTelemetry context), for
    ``ThreadPoolExecutor.submit``, ``loop.run_in_executor`` or callbacks
    that would otherwise start from an empty context."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run
