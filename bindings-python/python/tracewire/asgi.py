"""Traced WebSocket connections of any ASGI application (Starlette, FastAPI).

:class:`TracewireMiddleware` wraps an ASGI application. For each
``websocket`` scope it does what :func:`tracewire.ws.serve` does for a
``websockets`` server, by adapting the ASGI messages (every decision is the
core's, through the same code as :mod:`tracewire.ws`):

- the client's context and session id come from the scope's headers, else
  its query string (browsers, ``docs/PROTOCOL.md`` 3.1); the ``accept`` span
  starts under them when the scope arrives, as the trust policy allows;
- the application sees the offered subprotocols without the tracewire tokens
  (``scope["subprotocols"]``), and the subprotocol it accepts with
  (``websocket.accept``) is answered composed with the tracewire token the
  core selects (``tracewire.v1.json-binary+mcp``), or alone; an application
  that accepts none gets the bare tracewire token when the client offered
  one;
- ``websocket.receive`` messages (text and bytes) are decoded: the
  application receives the payload without the envelope, and the message's
  process span is current in the receiving task while the application
  processes it, until it asks for the next message (so its reply's send span
  and its own spans are children);
- ``websocket.send`` messages get a send span whose context the codec puts
  in the negotiated envelope;
- the close is recorded from ``websocket.close`` (sent by the application) or
  ``websocket.disconnect`` (the client's code); an application that fails
  after accepting records 1011, one that refuses the connection (closes
  before accepting, or sends a denial response) an ``HTTP 403`` error.

A client that offers no tracewire token (a plain ``websockets`` client, a
browser without tracewire) gets no envelope and its frames reach the
application untouched; its messages still get spans. ``http`` and
``lifespan`` scopes pass straight through.

A traced scope holds the key ``"tracewire"`` (its value is private): a
second middleware (or the instrumentor, :mod:`tracewire.instrumentation`)
sees it and passes the scope on, so nothing is traced twice.

Example::

    from fastapi import FastAPI, WebSocket
    from tracewire.asgi import TracewireMiddleware

    app = FastAPI()
    app.add_middleware(TracewireMiddleware, model="connection")

    @app.websocket("/chat")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Optional, Tuple
from urllib.parse import quote

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ._native import Envelopes, Target, Trust
from .ws import Data, _app_offer, _Channel, _Config, _Held, _ServerAccept

__all__ = ["TracewireMiddleware", "SCOPE_KEY"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The scope key a traced WebSocket scope holds.
SCOPE_KEY = "tracewire"


class TracewireMiddleware:
    """ASGI middleware that traces WebSocket connections (see the module).

    Args:
        app: the ASGI application.
        model: ``"connection"`` or ``"message"`` (see :class:`tracewire.ws.connect`).
        envelopes: what the server supports (default: JSON and binary).
        json_path, mcp, strip: the JSON envelope (see :class:`tracewire.ws.connect`).
        tracer_provider: default: the global one.
        trust: how far clients are trusted (:class:`~tracewire.Trust`,
            default ``Trust.trusted()``; ``Trust.untrusted()`` on the internet).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        model: str = "connection",
        envelopes: Optional[Envelopes] = None,
        json_path: str = "",
        mcp: bool = False,
        strip: Optional[bool] = None,
        tracer_provider: Optional[trace.TracerProvider] = None,
        trust: Optional[Trust] = None,
    ) -> None:
        self.app = app
        self._config = _Config(
            model=model,
            envelopes=envelopes,
            json_path=json_path,
            mcp=mcp,
            strip=strip,
            tracer_provider=tracer_provider,
            trust=trust,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or SCOPE_KEY in scope:
            await self.app(scope, receive, send)
            return
        await _AsgiConnection(self._config, scope).run(self.app, scope, receive, send)

    @classmethod
    def _from_config(cls, config: _Config) -> "TracewireMiddleware":
        """A middleware for :meth:`traced` only (the instrumentor's)."""
        middleware = cls(_no_app)
        middleware._config = config
        return middleware

    async def traced(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Runs ``app`` for the ``websocket`` scope ``scope``, traced."""
        await _AsgiConnection(self._config, scope).run(app, scope, receive, send)


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("tracewire: this middleware runs the application given to traced()")


def _decoded_headers(scope: Scope) -> List[Tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers") or ()]


def _request_target(scope: Scope, query: Optional[str]) -> str:
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path") or "/")
    return f"{path}?{query}" if query else path


class _AsgiConnection:
    """One traced ASGI WebSocket connection: the scope's handshake, then the
    application's messages adapted to the core's decisions."""

    __slots__ = ("accept", "held", "channel", "__weakref__")

    def __init__(self, config: _Config, scope: Scope) -> None:
        headers = _decoded_headers(scope)
        query = (scope.get("query_string") or b"").decode("latin-1") or None
        host = next((v for k, v in headers if k.lower() == "host"), None)
        # As tracewire.ws.serve: only a server that terminates TLS knows wss.
        scheme = "wss" if scope.get("scheme") == "wss" else None
        target = Target.from_request_lenient(scheme, host, _request_target(scope, query))
        self.accept = _ServerAccept(config, headers, query, target)
        self.held = _Held()
        self.channel: Optional[_Channel] = None

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Runs ``app`` for ``scope`` with traced ``receive`` and ``send``."""
        inner = dict(scope)
        # The application chooses among its own protocols only.
        inner["subprotocols"] = _app_offer(scope.get("subprotocols"))
        inner[SCOPE_KEY] = self

        async def traced_receive() -> Message:
            return await self._receive(receive)

        async def traced_send(message: Message) -> None:
            await self._send(send, message)

        failed = False
        try:
            await app(inner, traced_receive, traced_send)
        except BaseException as exc:
            failed = True
            self.held.release(exc)
            spans = self.accept.spans
            span = spans.connection_span
            if span is not None and spans.connection_open:
                span.record_exception(exc)
                if self.channel is None:
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            self.held.release()
            if self.channel is None:
                # Never accepted: the server answers 403 (500 on an exception).
                self.accept.refused(500 if failed else 403)
            else:
                # The server closes what the application left open: 1011 after
                # a failure, else 1000. (No-op once a close was recorded.)
                self.accept.spans.close(1011 if failed else 1000, "")

    @property
    def session_id(self) -> str:
        return self.accept.spans.connection.session_id

    async def _receive(self, receive: Receive) -> Message:
        self.held.release()
        message = await receive()
        kind = message.get("type")
        if kind == "websocket.receive":
            channel = self.channel
            if channel is None:
                return message
            text = message.get("text")
            key = "text" if text is not None else "bytes"
            frame: Optional[Data] = text if text is not None else message.get("bytes")
            if frame is None:
                return message
            msg = channel.receive(frame)
            self.held.hold(msg)
            out: Dict[str, Any] = dict(message)
            out[key] = msg.data
            return out
        if kind == "websocket.disconnect":
            code = message.get("code")
            self.accept.spans.close(1005 if code is None else int(code), message.get("reason") or "")
        return message

    async def _send(self, send: Send, message: Message) -> None:
        kind = message.get("type")
        if kind == "websocket.send":
            channel = self.channel
            text = message.get("text")
            payload: Optional[Data] = text if text is not None else message.get("bytes")
            if channel is None or payload is None:
                await send(message)
                return
            key = "text" if text is not None else "bytes"

            async def transmit(wire: Data) -> None:
                out: Dict[str, Any] = dict(message)
                out[key] = wire
                await send(out)

            await channel.send(payload, otel_context.get_current(), transmit)
            return
        if kind == "websocket.accept" and self.channel is None:
            self.accept.choose(message.get("subprotocol"))
            out = dict(message)
            out["subprotocol"] = self.accept.subprotocol
            try:
                await send(out)
            except BaseException as exc:
                self.accept.spans.fail(exc)
                raise
            self.channel = self.accept.upgraded()
            return
        await send(message)
        if kind == "websocket.close":
            if self.channel is None:
                self.accept.refused(403)  # ASGI: a close before accept is a 403
            else:
                self.accept.spans.close(int(message.get("code") or 1000), message.get("reason") or "")
        elif kind == "websocket.http.response.start" and self.channel is None:
            self.accept.refused(int(message.get("status") or 403))
