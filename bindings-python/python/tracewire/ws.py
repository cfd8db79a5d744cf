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

Example::

    async with tracewire.ws.connect("ws://127.0.0.1:8765/chat") as conn:
        await conn.send('{"text": "hi"}')
        message = await conn.recv()
        print(message.data)
"""

from __future__ import annotations

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
        self._spans = spans
        self._conn = spans.connection
        self._codec = codec
        self._subprotocol = subprotocol

    @property
    def session_id(self) -> str:
        """The session id this side records as ``websocket.session.id``: the
        client's, unless this is a server whose ``trust`` policy does not take
        the client as a parent (it records one of its own)."""
        return self._conn.session_id

    @property
    def envelopes(self) -> Envelopes:
        """The envelopes negotiated on this connection."""
        return self._codec.envelopes

    @property
    def subprotocol(self) -> Optional[str]:
        """The application's subprotocol agreed in the handshake, by its own
        name (``"mcp"``, not the tracewire token that carried it), or
        ``None``. ``ws.subprotocol`` is the token on the wire."""
        return self._subprotocol

    @property
    def codec(self) -> Codec:
        """The frame rules of this connection (negotiated envelopes, JSON
        member path, stripping)."""
        return self._codec

    @property
    def model(self) -> str:
        """The tracing model, ``"connection"`` or ``"message"``."""
        return self._conn.model

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
        text = isinstance(message, str)
        size = len(message.encode()) if isinstance(message, str) else len(message)
        decision = self._conn.send("text" if text else "binary", size)
        span_context = self._spans.start(decision, ambient=ambient)
        span = trace.get_current_span(span_context)
        try:
            await self.ws.send(self._codec.encode(message, span_context))
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            span.end()

    def _receive(self, frame: Data) -> Message:
        decoded = self._codec.decode(frame)
        data = decoded.payload
        remote_tc = self._spans.admit(decoded.context)
        if not self._spans.receive_budget.admit():
            connection = self._spans.connection_context
            return Message(data, connection or Context(), remote_tc, decoded.error, trace.INVALID_SPAN)
        text = isinstance(data, str)
        decision = self._conn.receive("text" if text else "binary", decoded.body_size)
        ctx = self._spans.start(decision, remote=remote_tc, ambient=otel_context.get_current())
        span = trace.get_current_span(ctx)
        event = decoded.exception_event
        if event is not None:
            span.add_event(event.name, event.attributes)
        return Message(data, ctx, remote_tc, decoded.error, span)

    async def recv(self) -> Message:
        """Receives one message. Its process span covers the receipt and is
        ended; use :meth:`handle` for spans that cover the processing."""
        frame = await self.ws.recv()
        msg = self._receive(frame)
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
            msg = self._receive(frame)
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
        # websockets 13 has these on the protocol object only.
        state = getattr(self.ws, "protocol", self.ws)
        # websockets' close_code is the frame received, 1006 without one. A
        # side that fails the connection over what the peer sent (1009 for a
        # message over max_size, 1002, 1007: parser_exc is set) sends its
        # frame and closes without waiting for the answer, so the frame it
        # sent is what ended the connection. A close handshake the peer never
        # answers stays 1006.
        rcvd, sent = getattr(state, "close_rcvd", None), getattr(state, "close_sent", None)
        if rcvd is None and sent is not None and getattr(state, "parser_exc", None) is not None:
            self._spans.close(sent.code, sent.reason or "")
        else:
            self._spans.close(state.close_code, state.close_reason or "")

    async def __aenter__(self) -> "TracedConnection":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _json_envelope(json_path: str, mcp: bool, strip: Optional[bool]) -> JsonEnvelope:
    return JsonEnvelope.mcp(strip=strip) if mcp else JsonEnvelope(json_path, strip=strip)


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
        self._model = model
        self._offer = envelopes
        self._apps = subprotocols
        self._json = _json_envelope(json_path, mcp, strip)
        self._provider = tracer_provider
        self._context = context
        self._trust = trust
        self._kwargs = kwargs
        self._conn: Optional[TracedConnection] = None

    async def _connect(self) -> TracedConnection:
        from websockets.asyncio.client import connect as ws_connect
        from websockets.typing import Subprotocol

        target = Target.from_url(self._uri)
        handshake = ClientHandshake(self._offer, app_protocols=self._apps)
        conn = Connection.from_target(self._model, "client", handshake.session_id, target, trust=self._trust)
        spans = SpanApplier(conn, self._provider)
        ambient = otel_context.get_current() if self._context is None else self._context
        span_context = spans.open(ambient=ambient)
        request = handshake.request_headers(TraceContext.from_otel(span_context))
        kwargs = {**limit_defaults(), **self._kwargs}
        extra = kwargs.pop("additional_headers", None)
        headers: List[Tuple[str, str]] = []
        if extra is not None:
            items = extra.items() if hasattr(extra, "items") else extra
            headers.extend((str(k), str(v)) for k, v in items)
        headers.extend(request)
        offer = [Subprotocol(token) for token in handshake.subprotocols()] or None
        try:
            ws = await ws_connect(self._uri, additional_headers=headers, subprotocols=offer, **kwargs)
        except BaseException as exc:
            spans.fail(exc)
            raise
        accepted, app_protocol = handshake.negotiated(ws.subprotocol)
        spans.upgraded()
        return TracedConnection(ws, spans=spans, codec=Codec(accepted, self._json), subprotocol=app_protocol)

    def __await__(self) -> Generator[Any, None, TracedConnection]:
        return self._connect().__await__()

    async def __aenter__(self) -> TracedConnection:
        self._conn = await self._connect()
        return self._conn

    async def __aexit__(self, *exc: Any) -> None:
        if self._conn is not None:
            await self._conn.close()


class _ServerState:
    __slots__ = ("spans", "codec", "handshake")

    def __init__(self, spans: SpanApplier, codec: Codec, handshake: ServerHandshake) -> None:
        self.spans = spans
        self.codec = codec
        self.handshake = handshake


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


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
    from websockets.typing import Subprotocol

    if "select_subprotocol" in kwargs:
        raise TypeError("tracewire.ws.serve selects the subprotocol itself; pass subprotocols=")
    supported = envelopes
    apps = list(subprotocols or [])
    json_envelope = _json_envelope(json_path, mcp, strip)
    # Whether this server terminates TLS is the only scheme it can know (behind
    # a proxy, plain ws may still be wss to the client): unknown otherwise.
    scheme = "wss" if kwargs.get("ssl") is not None else None
    states: "weakref.WeakKeyDictionary[Any, _ServerState]" = weakref.WeakKeyDictionary()

    async def on_request(ws: Any, request: Any) -> Any:
        if process_request is not None:
            response = await _maybe_await(process_request(ws, request))
            if response is not None:
                return response
        hs = ServerHandshake(request.headers, urlsplit(request.path).query or None, supported, apps)
        target = Target.from_request_lenient(scheme, request.headers.get("Host"), request.path)
        conn = Connection.from_target(model, "server", hs.session_id, target, trust=trust)
        spans = SpanApplier(conn, tracer_provider)
        spans.open(remote=hs.context, ambient=Context())
        states[ws] = _ServerState(spans, Codec(hs.envelopes, json_envelope), hs)
        return None

    def select_subprotocol(ws: Any, offered: Any) -> Optional[Subprotocol]:
        # The core already selected, from the same request header.
        state = states.get(ws)
        selected = None if state is None else state.handshake.subprotocol
        return None if selected is None else Subprotocol(selected)

    async def on_response(ws: Any, request: Any, response: Any) -> Any:
        if process_response is not None:
            replaced = await _maybe_await(process_response(ws, request, response))
            if replaced is not None:
                response = replaced
        state = states.get(ws)
        if state is None:
            return response
        if response.status_code == 101:
            state.spans.upgraded()
        else:
            if state.spans.connection_span is not None:
                state.spans.connection_span.set_status(
                    Status(StatusCode.ERROR, f"HTTP {response.status_code}")
                )
            state.spans.end_connection_span()
            states.pop(ws, None)
        return response

    async def on_connection(ws: Any) -> None:
        state = states.pop(ws, None)
        if state is None:  # not traced (should not happen): plain handling
            raise RuntimeError("tracewire: connection without handshake state")
        conn = TracedConnection(
            ws, spans=state.spans, codec=state.codec, subprotocol=state.handshake.app_protocol
        )
        token = otel_context.attach(Context())
        failed = False
        try:
            await handler(conn)
        except BaseException as exc:
            failed = True
            span = state.spans.connection_span
            if span is not None and state.spans.connection_open:
                span.record_exception(exc)
            raise
        finally:
            otel_context.detach(token)
            try:
                # As websockets does for a failed handler: 1011, internal error.
                await ws.close(1011 if failed else 1000)
            finally:
                conn._record_close()

    options = {**limit_defaults(), **kwargs}
    return ws_serve(
        on_connection,
        host,
        port,
        process_request=on_request,
        process_response=on_response,
        select_subprotocol=select_subprotocol,
        **options,
    )
