"""Traced WebSocket connections over the asyncio API of ``websockets`` (>= 13).

``connect(...)`` and ``serve(...)`` wrap ``websockets.asyncio.client.connect``
and ``websockets.asyncio.server.serve``:

- the handshake carries the caller's context and the session id (client),
  which the server extracts; the envelopes are offered and selected as
  WebSocket subprotocols (``tracewire.v1.json-binary``, ...), composed with
  the application's own (``subprotocols=["mcp"]`` offers
  ``tracewire.v1.json-binary+mcp``, ..., ``mcp``), and the application sees
  its own protocol name in :attr:`TracedConnection.subprotocol`;
- each message sent gets a send span whose context rides in the negotiated
  envelope; each message received gets a process span whose parent is the
  message's context;
- spans follow the tracing model chosen per connection (``"connection"`` or
  ``"message"``), as the core decides them;
- a peer that does not speak tracewire selects (or offers) no tracewire
  subprotocol, so it sees plain frames, and its frames are delivered
  untouched;
- every frame goes through the core's :class:`~tracewire.Codec` for what was
  negotiated (which frames are enveloped, stripping on receive, and the
  ``exception`` event a malformed envelope leaves on the process span), and
  the span names and attributes come from the URL as the core reads it
  (:class:`~tracewire.Target`);
- both run with the core's WebSocket limits (:func:`limit_defaults`,
  ``docs/PROTOCOL.md`` 11.1) unless the caller passes its own.

Limits: ``connect`` and ``serve`` pass ``websockets`` these defaults, from
:func:`tracewire.ws_limits`:

- ``max_size``: the largest message (1 MiB). ``websockets`` checks each frame
  against what is left of it, from the frame header, before reading the
  payload; a larger message closes the connection with 1009 (message too big)
  and never reaches the application. The core's frame limit equals the
  message limit, so it needs no separate argument (a smaller one would be
  passed as ``websockets``' ``(message, fragment)`` pair).
- ``open_timeout``: the opening handshake (10 s); for the client it includes
  the TCP connect, for the server it runs per connection.
- ``write_limit``: the high-water mark of the write buffer (4 MiB, the core's
  most bytes queued for writing). Above it, ``send`` waits for the peer to
  read rather than queueing without bound. The core's write buffer size
  (frames gathered before a socket write) has no ``websockets`` counterpart:
  asyncio writes each frame to the transport as it is sent.

Any of ``max_size``, ``open_timeout`` or ``write_limit`` given to
``connect(...)`` or ``serve(...)`` wins over the default, e.g.
``serve(handler, host, port, max_size=16 * 2**20)``; a peer that must carry
larger messages raises the limit on both sides.

The same code traces unmodified ``websockets`` applications
(:mod:`tracewire.instrumentation`) and ASGI applications
(:mod:`tracewire.asgi`): what a message sent or received becomes
(``_Channel``), a client's handshake (``_ClientAttempt``) and a server's
(``_ServerAccept``, ``_ServerHooks``).

Example::

    async with tracewire.ws.connect("ws://127.0.0.1:8765/chat") as conn:
        await conn.send('{"text": "hi"}')
        message = await conn.recv()
        print(message.data)
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import weakref
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    Generator,
    List,
    Optional,
    Tuple,
    Union,
)
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from ._errors import Error
from ._native import (
    ClientHandshake,
    Codec,
    Connection,
    Envelopes,
    JsonEnvelope,
    ServerHandshake,
    Target,
    TraceContext,
    Trust,
    ws_limits,
)
from ._spans import SpanApplier

__all__ = ["Message", "TracedConnection", "connect", "limit_defaults", "serve"]

Data = Union[str, bytes]


def limit_defaults() -> Dict[str, Any]:
    """The keyword arguments ``connect`` and ``serve`` give ``websockets``
    unless the caller gives its own: ``max_size``, ``open_timeout`` and
    ``write_limit``, from the core's limits (:func:`tracewire.ws_limits`).
    Useful to open a plain ``websockets`` endpoint with the same limits."""
    limits = ws_limits()
    max_size: Union[int, Tuple[int, int]] = limits.max_message_size
    if limits.max_frame_size < limits.max_message_size:
        max_size = (limits.max_message_size, limits.max_frame_size)
    return {
        "max_size": max_size,
        "open_timeout": limits.handshake_timeout,
        "write_limit": limits.max_write_buffer_size,
    }


class Message:
    """One received message and what came with it.

    Attributes:
        data: the payload for the application (``str`` for text frames,
            ``bytes`` for binary), without the binary envelope.
        context: an OpenTelemetry context whose current span is this
            message's process span; start work spans under it. When the
            connection's receive span budget ran out (``Trust``), the
            connection's context, and the message has no span of its own.
        remote_context: the context the message carried, as the
            connection's trust policy admits it, or ``None``.
        error: why the message's envelope was malformed (the frame is then
            delivered as it came, and the process span has the core's
            ``exception`` event), or ``None``.
        span: the process span (a non-recording span when the budget ran out).
    """

    __slots__ = ("data", "context", "remote_context", "error", "span")

    def __init__(
        self,
        data: Data,
        context: Context,
        remote_context: Optional[TraceContext],
        error: Optional[Error],
        span: Span,
    ) -> None:
        self.data = data
        self.context = context
        self.remote_context = remote_context
        self.error = error
        self.span = span

    def __repr__(self) -> str:
        return f"Message(data={self.data!r}, enveloped={self.remote_context is not None})"


class _Config:
    """What a traced endpoint was asked for: the same for every connection
    of one ``connect``, ``serve``, instrumentor or ASGI middleware."""

    __slots__ = ("model", "envelopes", "app_protocols", "json", "tracer_provider", "trust")

    def __init__(
        self,
        *,
        model: str = "connection",
        envelopes: Optional[Envelopes] = None,
        app_protocols: Optional[List[str]] = None,
        json_path: str = "",
        mcp: bool = False,
        strip: Optional[bool] = None,
        tracer_provider: Optional[trace.TracerProvider] = None,
        trust: Optional[Trust] = None,
    ) -> None:
        self.model = model
        self.envelopes = envelopes
        self.app_protocols = list(app_protocols) if app_protocols else None
        self.json = _json_envelope(json_path, mcp, strip)
        self.tracer_provider = tracer_provider
        self.trust = trust

    def with_app_protocols(self, app_protocols: Optional[List[str]]) -> "_Config":
        other = _Config.__new__(_Config)
        for name in _Config.__slots__:
            setattr(other, name, getattr(self, name))
        other.app_protocols = list(app_protocols) if app_protocols else None
        return other


def _json_envelope(json_path: str, mcp: bool, strip: Optional[bool]) -> JsonEnvelope:
    return JsonEnvelope.mcp(strip=strip) if mcp else JsonEnvelope(json_path, strip=strip)


class _Channel:
    """The traced messages of one open connection: what every traced
    WebSocket of this package does with a message sent or received, whoever
    moves the frames (``TracedConnection``, an instrumented ``websockets``
    connection, the ASGI middleware)."""

    __slots__ = ("spans", "conn", "codec", "app_protocol")

    def __init__(self, spans: SpanApplier, codec: Codec, app_protocol: Optional[str]) -> None:
        self.spans = spans
        self.conn = spans.connection
        self.codec = codec
        self.app_protocol = app_protocol

    async def send(self, message: Data, ambient: Context, transmit: Callable[[Data], Awaitable[Any]]) -> None:
        """Sends ``message`` with ``transmit`` inside a send span started
        under ``ambient``, its context in the negotiated envelope."""
        text = isinstance(message, str)
        size = len(message.encode()) if isinstance(message, str) else len(message)
        decision = self.conn.send("text" if text else "binary", size)
        span_context = self.spans.start(decision, ambient=ambient)
        span = trace.get_current_span(span_context)
        try:
            await transmit(self.codec.encode(message, span_context))
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            span.end()

    def receive(self, frame: Data) -> Message:
        """Decodes one received frame and starts its process span (not ended)."""
        decoded = self.codec.decode(frame)
        data = decoded.payload
        remote_tc = self.spans.admit(decoded.context)
        if not self.spans.receive_budget.admit():
            connection = self.spans.connection_context
            return Message(data, connection or Context(), remote_tc, decoded.error, trace.INVALID_SPAN)
        text = isinstance(data, str)
        decision = self.conn.receive("text" if text else "binary", decoded.body_size)
        ctx = self.spans.start(decision, remote=remote_tc, ambient=otel_context.get_current())
        span = trace.get_current_span(ctx)
        event = decoded.exception_event
        if event is not None:
            span.add_event(event.name, event.attributes)
        return Message(data, ctx, remote_tc, decoded.error, span)

    def record_close(self, ws: Any) -> None:
        """Records the close of the ``websockets`` connection ``ws``."""
        # websockets 13 has these on the protocol object only.
        state = getattr(ws, "protocol", ws)
        # websockets' close_code is the frame received, 1006 without one. A
        # side that fails the connection over what the peer sent (1009 for a
        # message over max_size, 1002, 1007: parser_exc is set) sends its
        # frame and closes without waiting for the answer, so the frame it
        # sent is what ended the connection. A close handshake the peer never
        # answers stays 1006.
        rcvd, sent = getattr(state, "close_rcvd", None), getattr(state, "close_sent", None)
        if rcvd is None and sent is not None and getattr(state, "parser_exc", None) is not None:
            self.spans.close(sent.code, sent.reason or "")
        else:
            self.spans.close(state.close_code, state.close_reason or "")

    def fail(self, exc: BaseException) -> None:
        """Records what failed the application's handling of the connection."""
        span = self.spans.connection_span
        if span is not None and self.spans.connection_open:
            span.record_exception(exc)


class _Held:
    """The process span of the message an application read last, where the
    application reads one message at a time and gets no :class:`Message`
    (an instrumented ``websockets`` ``recv``, an ASGI ``receive``): the span's
    context is made current in the task that received it, and the span stays
    open while that task processes the message, until it asks for the next
    one (or the connection ends), as ``TracedConnection.handle`` does for a
    handler call. Spans the application starts meanwhile (its reply's send
    span too) are the message's children."""

    __slots__ = ("span", "context", "token", "task")

    def __init__(self) -> None:
        self.span: Optional[Span] = None
        self.context: Optional[Context] = None
        self.token: Optional[object] = None
        self.task: Optional[object] = None

    def hold(self, msg: Message) -> None:
        self.release()
        self.span = msg.span
        self.context = msg.context
        self.token = otel_context.attach(msg.context)
        self.task = _current_task()

    def end(self, exc: Optional[BaseException] = None) -> None:
        """Ends the span (from anywhere); its context stays attached until
        :meth:`release` in the task that received it."""
        span = self.span
        if span is None:
            return
        self.span = None
        if exc is not None:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
        span.end()

    def release(self, exc: Optional[BaseException] = None) -> None:
        """Ends the span and, in the task that received the message, detaches
        its context (unless something else was attached since: the
        application's own context is never lost)."""
        self.end(exc)
        token = self.token
        if token is None:
            return
        if self.task is not _current_task():
            return
        self.token = None
        if otel_context.get_current() is self.context:
            otel_context.detach(token)  # type: ignore[arg-type]
        self.context = self.task = None


def _current_task() -> Optional[object]:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop (connection_lost of a closed loop)
        return None


class TracedConnection:
    """A WebSocket connection whose messages are traced.

    Wraps a ``websockets`` connection (``.ws``); use :meth:`send`,
    :meth:`recv`, ``async for message in conn``, :meth:`handle` and
    :meth:`close` instead of the wrapped object's methods to get spans and
    envelopes.
    """

    def __init__(
        self,
        ws: Any,
        *,
        spans: SpanApplier,
        codec: Codec,
        subprotocol: Optional[str] = None,
    ) -> None:
        self.ws = ws
        self._channel = _Channel(spans, codec, subprotocol)
        self._spans = spans

    @property
    def session_id(self) -> str:
        """The session id this side records as ``websocket.session.id``: the
        client's, unless this is a server whose ``trust`` policy does not take
        the client as a parent (it records one of its own)."""
        return self._channel.conn.session_id

    @property
    def envelopes(self) -> Envelopes:
        """The envelopes negotiated on this connection."""
        return self._channel.codec.envelopes

    @property
    def subprotocol(self) -> Optional[str]:
        """The application's subprotocol agreed in the handshake, by its own
        name (``"mcp"``, not the tracewire token that carried it), or
        ``None``. ``ws.subprotocol`` is the token on the wire."""
        return self._channel.app_protocol

    @property
    def codec(self) -> Codec:
        """The frame rules of this connection (negotiated envelopes, JSON
        member path, stripping)."""
        return self._channel.codec

    @property
    def model(self) -> str:
        """The tracing model, ``"connection"`` or ``"message"``."""
        return self._channel.conn.model

    @property
    def connection_span(self) -> Optional[Span]:
        """The ``connect`` / ``accept`` span."""
        return self._spans.connection_span

    async def send(self, message: Data, *, context: Optional[Context] = None) -> None:
        """Sends one message (``str``: a text frame, ``bytes``: a binary one)
        inside a send span, whose context the codec puts in the envelope the
        peer accepted for that frame (see :class:`~tracewire.Codec`).
        ``context`` is the ambient context (default: the current one).
        """
        ambient = otel_context.get_current() if context is None else context
        await self._channel.send(message, ambient, self.ws.send)

    def _receive(self, frame: Data) -> Message:
        return self._channel.receive(frame)

    async def recv(self) -> Message:
        """Receives one message. Its process span covers the receipt and is
        ended; use :meth:`handle` for spans that cover the processing."""
        frame = await self.ws.recv()
        msg = self._channel.receive(frame)
        msg.span.end()
        return msg

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        from websockets.exceptions import ConnectionClosedOK

        while True:
            try:
                yield await self.recv()
            except ConnectionClosedOK:
                return

    async def handle(self, handler: Callable[[Message], Awaitable[None]]) -> None:
        """Calls ``handler`` for each message until the peer closes normally,
        with the message's process span current and covering the call."""
        from websockets.exceptions import ConnectionClosedOK

        while True:
            try:
                frame = await self.ws.recv()
            except ConnectionClosedOK:
                return
            msg = self._channel.receive(frame)
            token = otel_context.attach(msg.context)
            try:
                await handler(msg)
            except BaseException as exc:
                msg.span.record_exception(exc)
                msg.span.set_status(Status(StatusCode.ERROR, str(exc)))
                raise
            finally:
                otel_context.detach(token)
                msg.span.end()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes the connection and records the close as the model says."""
        await self.ws.close(code, reason)
        self._record_close()

    def _record_close(self) -> None:
        self._channel.record_close(self.ws)

    async def __aenter__(self) -> "TracedConnection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


# Set while tracewire.ws itself builds a websockets client or server, so that
# an instrumented websockets (tracewire.instrumentation) leaves it alone.
_EXPLICIT: "contextvars.ContextVar[bool]" = contextvars.ContextVar("tracewire_explicit", default=False)


def _explicit_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = _EXPLICIT.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _EXPLICIT.reset(token)


def _header_pairs(extra: Any) -> List[Tuple[str, str]]:
    """Any header collection ``websockets`` takes as ``(name, value)`` pairs."""
    if extra is None:
        return []
    if hasattr(extra, "raw_items"):
        return [(str(k), str(v)) for k, v in extra.raw_items()]
    items = extra.items() if hasattr(extra, "items") else extra
    return [(str(k), str(v)) for k, v in items]


class _ClientAttempt:
    """One client connection attempt: the handshake offered, the ``connect``
    span started under the caller's context, the request headers carrying it."""

    __slots__ = ("handshake", "spans", "config", "headers")

    def __init__(self, uri: str, config: _Config, ambient: Context) -> None:
        target = Target.from_url(uri)
        self.config = config
        self.handshake = ClientHandshake(config.envelopes, app_protocols=config.app_protocols)
        conn = Connection.from_target(config.model, "client", self.handshake.session_id, target, trust=config.trust)
        self.spans = SpanApplier(conn, config.tracer_provider)
        span_context = self.spans.open(ambient=ambient)
        self.headers = self.handshake.request_headers(TraceContext.from_otel(span_context))

    def request_headers(self, extra: Any) -> List[Tuple[str, str]]:
        """The application's ``extra`` headers, then tracewire's."""
        return _header_pairs(extra) + self.headers

    def offer(self) -> List[str]:
        """The subprotocols to offer (the core's tokens and the application's)."""
        return self.handshake.subprotocols()

    def fail(self, exc: BaseException) -> None:
        self.spans.fail(exc)

    def established(self, selected: Optional[str]) -> _Channel:
        """The upgrade completed with ``selected`` as the subprotocol."""
        accepted, app_protocol = self.handshake.negotiated(selected)
        self.spans.upgraded()
        return _Channel(self.spans, Codec(accepted, self.config.json), app_protocol)


def _app_offer(offered: Any) -> List[str]:
    """The offered subprotocols an application may choose from itself: all
    but the tracewire tokens (an application protocol never starts with
    ``tracewire.``, ``docs/PROTOCOL.md`` 3.3)."""
    return [str(p) for p in offered or () if not str(p).startswith("tracewire.")]


class _ServerAccept:
    """One server connection from the request to the upgrade: the client's
    context and session id read from the handshake, the ``accept`` span,
    then the subprotocol the core selects (``select``)."""

    __slots__ = ("headers", "query", "config", "spans", "handshake", "channel", "_selected")

    def __init__(self, config: _Config, headers: Any, query: Optional[str], target: Target) -> None:
        self.config = config
        self.headers = headers
        self.query = query
        self.handshake = ServerHandshake(headers, query, config.envelopes, config.app_protocols)
        conn = Connection.from_target(config.model, "server", self.handshake.session_id, target, trust=config.trust)
        self.spans = SpanApplier(conn, config.tracer_provider)
        self.spans.open(remote=self.handshake.context, ambient=Context())
        self.channel: Optional[_Channel] = None
        self._selected: Optional[Tuple[Optional[str], Envelopes, Optional[str]]] = None

    def choose(self, app_protocol: Optional[str]) -> None:
        """The application chose ``app_protocol`` (or none) itself: the core
        selects again with that one as the only application protocol, so a
        tracewire token composed with it, or it alone, is answered."""
        hs = ServerHandshake(self.headers, self.query, self.config.envelopes, [app_protocol] if app_protocol else None)
        if app_protocol is not None and hs.app_protocol != app_protocol:
            # The client offered it alone before any composed token: answer
            # it alone, without envelopes.
            self._selected = (app_protocol, Envelopes.NONE, app_protocol)
        else:
            self._selected = (hs.subprotocol, hs.envelopes, hs.app_protocol)

    @property
    def subprotocol(self) -> Optional[str]:
        """The value to answer in ``Sec-WebSocket-Protocol``, or ``None``."""
        return self._selection()[0]

    def _selection(self) -> Tuple[Optional[str], Envelopes, Optional[str]]:
        selected = self._selected
        if selected is None:
            hs = self.handshake
            selected = (hs.subprotocol, hs.envelopes, hs.app_protocol)
        return selected

    def upgraded(self) -> _Channel:
        _, envelopes, app_protocol = self._selection()
        self.spans.upgraded()
        self.channel = _Channel(self.spans, Codec(envelopes, self.config.json), app_protocol)
        return self.channel

    def refused(self, status: int) -> None:
        """The server answered ``status`` instead of upgrading."""
        span = self.spans.connection_span
        if span is not None and self.spans.connection_open:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        self.spans.end_connection_span()
        self.spans.closed = True


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class _ServerHooks:
    """The ``websockets`` server hooks that trace each connection's handshake
    (``process_request``, ``select_subprotocol``, ``process_response``),
    around the application's own. ``app_select``, the application's own
    ``select_subprotocol``, chooses among the offered application protocols
    (see ``_ServerAccept.choose``)."""

    def __init__(
        self,
        config: _Config,
        scheme: Optional[str],
        process_request: Optional[Callable[..., Any]],
        process_response: Optional[Callable[..., Any]],
        app_select: Optional[Callable[..., Any]] = None,
    ) -> None:
        self.config = config
        self.scheme = scheme
        self.user_request = process_request
        self.user_response = process_response
        self.app_select = app_select
        self.states: "weakref.WeakKeyDictionary[Any, _ServerAccept]" = weakref.WeakKeyDictionary()

    async def process_request(self, ws: Any, request: Any) -> Any:
        if self.user_request is not None:
            response = await _maybe_await(self.user_request(ws, request))
            if response is not None:
                return response
        target = Target.from_request_lenient(self.scheme, request.headers.get("Host"), request.path)
        query = urlsplit(request.path).query or None
        self.states[ws] = _ServerAccept(self.config, request.headers, query, target)
        return None

    def select_subprotocol(self, ws: Any, offered: Any) -> Any:
        from websockets.typing import Subprotocol

        state = self.states.get(ws)
        if state is None:
            return None
        if self.app_select is not None:
            chosen = self.app_select(ws, [Subprotocol(p) for p in _app_offer(offered)])
            state.choose(None if chosen is None else str(chosen))
        # The core selects, from the same request header.
        selected = state.subprotocol
        return None if selected is None else Subprotocol(selected)

    async def process_response(self, ws: Any, request: Any, response: Any) -> Any:
        if self.user_response is not None:
            replaced = await _maybe_await(self.user_response(ws, request, response))
            if replaced is not None:
                response = replaced
        state = self.states.get(ws)
        if state is None:
            return response
        if response.status_code == 101:
            state.upgraded()
        else:
            state.refused(response.status_code)
            self.states.pop(ws, None)
        return response

    def take(self, ws: Any) -> Optional[_Channel]:
        """The traced channel of the upgraded connection ``ws``."""
        state = self.states.pop(ws, None)
        return None if state is None else state.channel

    async def run(self, ws: Any, channel: _Channel, call: Callable[[], Awaitable[None]], held: Optional[_Held] = None) -> None:
        """Runs the application's handler (``call``) for ``ws``, then closes
        the connection (1011 if it failed) and records the close."""
        token = otel_context.attach(Context())
        failed = False
        try:
            await call()
        except BaseException as exc:
            failed = True
            if held is not None:
                held.release(exc)
            channel.fail(exc)
            raise
        finally:
            if held is not None:
                held.release()
            otel_context.detach(token)
            try:
                # As websockets does for a failed handler: 1011, internal error.
                await ws.close(1011 if failed else 1000)
            finally:
                channel.record_close(ws)


class connect:
    """Opens a traced WebSocket connection (``await connect(...)`` or
    ``async with connect(...) as conn``).

    Args:
        uri: the ``ws://`` or ``wss://`` URI.
        model: ``"connection"`` (one trace per connection) or ``"message"``
            (one trace per message or stream, linked to the connection).
        envelopes: what to offer (default: JSON and binary).
        subprotocols: the application's own subprotocols, in order of
            preference: offered composed with the tracewire tokens and alone
            (see :attr:`TracedConnection.subprotocol`).
        json_path: the member path of the JSON envelope object (default
            ``""``: the core's default member, ``tracewire``).
        mcp: MCP / JSON-RPC mode: the context in ``params._meta`` of
            requests and notifications and ``result._meta`` of results
            (``json_path`` is then ignored), read and written on every text
            frame whatever the handshake negotiated, as MCP peers do.
        strip: whether to remove the JSON envelope's W3C members from received
            payloads; ``None`` (default) is the core's default, the same in
            every tracewire language: stripped, so the application sees what
            the sender wrote. ``False`` keeps them.
        tracer_provider: default: the global one.
        context: the ambient context for the ``connect`` span (default: current).
        trust: how far the server is trusted (:class:`~tracewire.Trust`,
            default ``Trust.trusted()``): what the contexts of its messages
            may do (``docs/PROTOCOL.md`` section 12).
        **kwargs: passed to ``websockets.asyncio.client.connect``
            (``additional_headers`` are merged); ``max_size``,
            ``open_timeout`` and ``write_limit`` replace the core's defaults
            (:func:`limit_defaults`).
    """

    def __init__(
        self,
        uri: str,
        *,
        model: str = "connection",
        envelopes: Optional[Envelopes] = None,
        subprotocols: Optional[List[str]] = None,
        json_path: str = "",
        mcp: bool = False,
        strip: Optional[bool] = None,
        tracer_provider: Optional[trace.TracerProvider] = None,
        context: Optional[Context] = None,
        trust: Optional[Trust] = None,
        **kwargs: Any,
    ) -> None:
        self._uri = uri
        self._config = _Config(
            model=model,
            envelopes=envelopes,
            app_protocols=subprotocols,
            json_path=json_path,
            mcp=mcp,
            strip=strip,
            tracer_provider=tracer_provider,
            trust=trust,
        )
        self._context = context
        self._kwargs = kwargs
        self._conn: Optional[TracedConnection] = None

    async def _connect(self) -> TracedConnection:
        from websockets.asyncio.client import connect as ws_connect
        from websockets.typing import Subprotocol

        ambient = otel_context.get_current() if self._context is None else self._context
        attempt = _ClientAttempt(self._uri, self._config, ambient)
        kwargs = {**limit_defaults(), **self._kwargs}
        headers = attempt.request_headers(kwargs.pop("additional_headers", None))
        offer = [Subprotocol(token) for token in attempt.offer()] or None
        try:
            ws = await _explicit_call(ws_connect, self._uri, additional_headers=headers, subprotocols=offer, **kwargs)
        except BaseException as exc:
            attempt.fail(exc)
            raise
        channel = attempt.established(ws.subprotocol)
        return TracedConnection(ws, spans=channel.spans, codec=channel.codec, subprotocol=channel.app_protocol)

    def __await__(self) -> Generator[Any, None, TracedConnection]:
        return self._connect().__await__()

    async def __aenter__(self) -> TracedConnection:
        self._conn = await self._connect()
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None:
            await self._conn.close()


def serve(
    handler: Callable[[TracedConnection], Awaitable[None]],
    host: Optional[str] = None,
    port: Optional[int] = None,
    *,
    model: str = "connection",
    envelopes: Optional[Envelopes] = None,
    subprotocols: Optional[List[str]] = None,
    json_path: str = "",
    mcp: bool = False,
    strip: Optional[bool] = None,
    tracer_provider: Optional[trace.TracerProvider] = None,
    trust: Optional[Trust] = None,
    process_request: Optional[Callable[..., Any]] = None,
    process_response: Optional[Callable[..., Any]] = None,
    **kwargs: Any,
) -> Any:
    """Starts a traced WebSocket server (``websockets.asyncio.server.serve``;
    use ``async with serve(...) as server``).

    ``handler`` receives a :class:`TracedConnection` per client. The server
    extracts the client's context from the handshake (headers, else query
    parameters), starts the ``accept`` span under it, answers the envelope
    offer by selecting a subprotocol: the tracewire token for the envelopes
    it supports (``envelopes``, default both), composed with one of the
    application's ``subprotocols`` when the client offered it, or that
    subprotocol alone; the core selects (``websockets``' own
    ``select_subprotocol`` cannot be given). It records the close when the
    handler returns. ``trust`` (:class:`~tracewire.Trust`, default
    ``Trust.trusted()``) is how far clients are trusted: a server on the
    internet passes ``Trust.untrusted()``, so a client's context is only
    linked, its baggage dropped, its session id replaced and its messages'
    spans capped (``docs/PROTOCOL.md`` section 12). Received JSON payloads lose their envelope
    object's W3C members unless ``strip=False`` (see :class:`connect` for the other
    arguments). Your own ``process_request`` and ``process_response`` hooks
    run first. ``server.address`` and ``server.port`` come from the ``Host``
    header; the port defaults to the scheme's only when ``ssl`` is given
    (the server then knows it terminates TLS). Other keyword arguments go to
    ``websockets``; ``max_size``, ``open_timeout`` and ``write_limit``
    replace the core's defaults (:func:`limit_defaults`): by default a
    message over 1 MiB closes its connection with 1009 before ``handler``
    sees it.
    """
    from websockets.asyncio.server import serve as ws_serve

    if "select_subprotocol" in kwargs:
        raise TypeError("tracewire.ws.serve selects the subprotocol itself; pass subprotocols=")
    config = _Config(
        model=model,
        envelopes=envelopes,
        app_protocols=subprotocols,
        json_path=json_path,
        mcp=mcp,
        strip=strip,
        tracer_provider=tracer_provider,
        trust=trust,
    )
    hooks = _ServerHooks(config, _server_scheme(kwargs), process_request, process_response)

    async def on_connection(ws: Any) -> None:
        channel = hooks.take(ws)
        if channel is None:  # not traced (should not happen): plain handling
            raise RuntimeError("tracewire: connection without handshake state")
        conn = TracedConnection(ws, spans=channel.spans, codec=channel.codec, subprotocol=channel.app_protocol)
        await hooks.run(ws, channel, lambda: handler(conn))

    options = {**limit_defaults(), **kwargs}
    return _explicit_call(
        ws_serve,
        on_connection,
        host,
        port,
        process_request=hooks.process_request,
        process_response=hooks.process_response,
        select_subprotocol=hooks.select_subprotocol,
        **options,
    )


def _server_scheme(kwargs: Dict[str, Any]) -> Optional[str]:
    # Whether this server terminates TLS is the only scheme it can know (behind
    # a proxy, plain ws may still be wss to the client): unknown otherwise.
    return "wss" if kwargs.get("ssl") is not None else None
