"""tracewire: end-to-end OpenTelemetry trace context over WebSocket.

The Python binding of the tracewire Rust core. Everything on the wire (W3C
``traceparent`` / ``tracestate`` / ``baggage``, the handshake headers, the
JSON and binary envelopes, the tracing models) is decided by the core; this
package converts types and applies those decisions with opentelemetry-python.

- Values: :class:`TraceParent`, :class:`TraceState`, :class:`Baggage`,
  :class:`TraceContext`; :class:`Received` (passing a received context on
  through an SDK that cannot hold all of it).
- Handshake: :func:`inject`, :func:`extract`, :class:`ClientHandshake`,
  :class:`ServerHandshake`, :class:`Envelopes`.
- Envelopes: :class:`JsonEnvelope`, :func:`encode_binary`,
  :func:`decode_binary`, :class:`Decoded` (nothing lost on bad input), and
  :class:`Codec`, what every frame of a connection becomes for the
  negotiated envelopes (with the :class:`Event` a malformed one records).
- Tracing models: :class:`Target` (a URL's server address, port and path),
  :class:`Connection` (span decisions), :meth:`SpanDecision.choose`
  (:class:`Available` facts to the :class:`Applied` parent, link and
  baggage), applied with :func:`start_span`.
- Streams: :class:`StreamMetrics` (lock-free), :class:`StreamSpan`,
  :class:`StreamInstruments` (span attributes and histograms).
- OpenTelemetry: :class:`W3CPropagator`, :func:`to_otel_context`,
  :func:`from_otel_context`.
- Async hops: :func:`capture`, :func:`restore`, :func:`restored`, :func:`bind`.
- WebSockets: :mod:`tracewire.ws` (``connect``, ``serve``), with the core's
  limits (:func:`ws_limits`, a :class:`WsLimits`) as defaults;
  :mod:`tracewire.asgi` (``TracewireMiddleware``: Starlette, FastAPI);
  :mod:`tracewire.instrumentation` (``WebsocketsInstrumentor``,
  ``StarletteInstrumentor``: ``opentelemetry-instrument``, no code).
- Errors: :class:`Error` and its subclasses, each with an :class:`ErrorCode`.
"""

from __future__ import annotations

from . import _native
from ._carrier import bind, capture, restore, restored
from ._errors import (
    Error,
    ErrorCode,
    InternalError,
    InvalidArgumentError,
    InvalidBaggageError,
    InvalidCarrierError,
    InvalidEnvelopeError,
    InvalidTraceParentError,
    InvalidTraceStateError,
    InvalidUrlError,
    NotJsonObjectError,
    UnsupportedEnvelopeVersionError,
)
from ._native import (
    Applied,
    Available,
    Baggage,
    BaggageMember,
    ClientHandshake,
    CloseDecision,
    Codec,
    Connection,
    Decoded,
    Envelopes,
    Event,
    JsonEnvelope,
    ServerHandshake,
    SpanDecision,
    StreamMetrics,
    StreamSnapshot,
    Received,
    Target,
    TraceContext,
    TraceParent,
    TraceState,
    Trust,
    ReceiveSpanBudget,
    WsLimits,
    decode_binary,
    encode_binary,
    extract,
    inject,
    metric_names,
    new_session_id,
    ws_limits,
)
from ._otel import W3CPropagator, from_otel_context, to_otel_context
from ._spans import start_span
from ._streams import StreamInstruments, StreamSpan

__version__: str = _native.__version__

__all__ = [
    "__version__",
    # values
    "TraceParent",
    "TraceState",
    "Baggage",
    "BaggageMember",
    "TraceContext",
    "Received",
    # handshake
    "inject",
    "extract",
    "new_session_id",
    "Envelopes",
    "ClientHandshake",
    "ServerHandshake",
    # envelopes
    "JsonEnvelope",
    "encode_binary",
    "decode_binary",
    "Decoded",
    "Codec",
    "Event",
    # tracing models
    "Target",
    "Connection",
    "SpanDecision",
    "CloseDecision",
    "Available",
    "Applied",
    "start_span",
    # trust policy
    "Trust",
    "ReceiveSpanBudget",
    # stream metrics
    "StreamMetrics",
    "StreamSnapshot",
    "StreamInstruments",
    "StreamSpan",
    "metric_names",
    # OpenTelemetry
    "W3CPropagator",
    "to_otel_context",
    "from_otel_context",
    # WebSocket limits
    "ws_limits",
    "WsLimits",
    # async hops
    "capture",
    "restore",
    "restored",
    "bind",
    # errors
    "Error",
    "ErrorCode",
    "InvalidTraceParentError",
    "InvalidTraceStateError",
    "InvalidBaggageError",
    "InvalidEnvelopeError",
    "UnsupportedEnvelopeVersionError",
    "NotJsonObjectError",
    "InvalidCarrierError",
    "InvalidArgumentError",
    "InvalidUrlError",
    "InternalError",
]
