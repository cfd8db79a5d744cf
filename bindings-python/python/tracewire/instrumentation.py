"""OpenTelemetry instrumentors: tracewire for applications that contain no
tracewire code (``opentelemetry-instrument python app.py``).

- :class:`WebsocketsInstrumentor` traces every client and server of the
  asyncio API of ``websockets`` (>= 13): ``websockets.asyncio.server.serve``
  and ``websockets.asyncio.client.connect``, also reached as
  ``websockets.serve`` / ``websockets.connect``, exactly as
  :mod:`tracewire.ws` does (it runs the same code): the handshake carries
  the context and the session id, the envelopes are negotiated as
  subprotocols and carried both ways, spans follow the tracing model, and
  the trust policy admits what peers send. The application keeps its plain
  ``websockets`` objects: ``send`` takes and ``recv`` / ``async for`` give
  the payloads it wrote, without envelopes, and ``subprotocol`` is its own
  protocol's name. After ``recv``, the message's process span is current in
  the receiving task until the task asks for the next message (or the
  connection ends), so the application's spans and replies are its
  children.
- :class:`StarletteInstrumentor` traces the WebSocket endpoints of every
  Starlette and FastAPI application (:class:`tracewire.asgi.TracewireMiddleware`
  around each application's ``__call__``, as
  ``opentelemetry-instrumentation-fastapi`` hooks every application):
  ``opentelemetry-instrument uvicorn app:app``.

Both are registered under the ``opentelemetry_instrumentor`` entry point
(``tracewire_websockets``, ``tracewire_starlette``; disable one with
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``), and can be used directly::

    from tracewire.instrumentation import WebsocketsInstrumentor
    WebsocketsInstrumentor().instrument(model="message")
    ...
    WebsocketsInstrumentor().uninstrument()   # later serve/connect are plain

Settings: keyword arguments of ``instrument()``, else these environment
variables, else the default (first):

- ``model`` / ``OTEL_PYTHON_TRACEWIRE_MODEL``: ``connection``, ``message``;
- ``envelopes`` / ``OTEL_PYTHON_TRACEWIRE_ENVELOPES``: ``json-binary``,
  ``json``, ``binary``, ``none`` (or an ``Envelopes``);
- ``server_trust`` / ``OTEL_PYTHON_TRACEWIRE_SERVER_TRUST``: ``trusted``,
  ``untrusted`` (or a ``Trust``): how far a server trusts its clients;
- ``client_trust`` / ``OTEL_PYTHON_TRACEWIRE_CLIENT_TRUST``: ``trusted``,
  ``untrusted`` (or a ``Trust``): how far a client trusts its servers;
- ``json_path`` / ``OTEL_PYTHON_TRACEWIRE_JSON_PATH``: the JSON envelope's
  member path (``""``: the core's default member, ``tracewire``);
- ``mcp`` / ``OTEL_PYTHON_TRACEWIRE_MCP``: ``false``, ``true`` (MCP
  ``_meta`` mode);
- ``strip`` / ``OTEL_PYTHON_TRACEWIRE_STRIP``: ``true``, ``false`` (remove
  the envelope's W3C members from received JSON).

``tracer_provider`` (default: the global one) is a keyword argument only.
An invalid environment value is logged and the default used (the
application still starts); an invalid keyword argument raises ``ValueError``.

What the instrumentor does not change: the application's ``websockets``
limits (``max_size`` and the others stay the application's own; see
:func:`tracewire.ws.limit_defaults` to apply the core's). Its limits:
``recv_streaming`` delivers frames as they come, untraced; a fragmented
``send`` (an iterable of fragments) is sent as one traced message; a
``serve`` or ``connect`` imported before ``instrument()`` ran by
``from websockets.asyncio.server import serve`` is the original function
(``opentelemetry-instrument`` instruments before the application imports,
so this only concerns manual instrumentation: ``connect`` is patched in
place and always covered).
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any, Callable, Collection, Dict, List, Optional, Tuple

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from ._native import Envelopes, Trust
from .ws import (
    _EXPLICIT,
    _ClientAttempt,
    _Channel,
    _Config,
    _Held,
    _server_scheme,
    _ServerHooks,
)

__all__ = ["WebsocketsInstrumentor", "StarletteInstrumentor"]

_log = logging.getLogger(__name__)

ENV_MODEL = "OTEL_PYTHON_TRACEWIRE_MODEL"
ENV_ENVELOPES = "OTEL_PYTHON_TRACEWIRE_ENVELOPES"
ENV_SERVER_TRUST = "OTEL_PYTHON_TRACEWIRE_SERVER_TRUST"
ENV_CLIENT_TRUST = "OTEL_PYTHON_TRACEWIRE_CLIENT_TRUST"
ENV_JSON_PATH = "OTEL_PYTHON_TRACEWIRE_JSON_PATH"
ENV_MCP = "OTEL_PYTHON_TRACEWIRE_MCP"
ENV_STRIP = "OTEL_PYTHON_TRACEWIRE_STRIP"

_MODELS = ("connection", "message")
_ENVELOPES = {
    "json-binary": Envelopes.ALL,
    "json": Envelopes(json=True),
    "binary": Envelopes(binary=True),
    "none": Envelopes.NONE,
}
_TRUST = {"trusted": Trust.trusted, "untrusted": Trust.untrusted}
_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def _model(value: Any) -> str:
    if value not in _MODELS:
        raise ValueError(f"model must be one of {', '.join(_MODELS)}, not {value!r}")
    return str(value)


def _envelopes(value: Any) -> Envelopes:
    if isinstance(value, Envelopes):
        return value
    try:
        return _ENVELOPES[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"envelopes must be one of {', '.join(_ENVELOPES)}, not {value!r}") from None


def _trust(value: Any) -> Trust:
    if isinstance(value, Trust):
        return value
    try:
        return _TRUST[str(value).strip().lower()]()
    except KeyError:
        raise ValueError(f"trust must be one of {', '.join(_TRUST)} or a tracewire.Trust, not {value!r}") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return _BOOLS[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"expected true or false, not {value!r}") from None


def _setting(kwargs: Dict[str, Any], name: str, env: str, parse: Callable[[Any], Any], default: Any) -> Any:
    """``kwargs[name]`` (an invalid one raises), else the environment variable
    (an invalid one is logged and ignored), else ``default``."""
    if kwargs.get(name) is not None:
        return parse(kwargs[name])
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        return parse(raw.lower() if parse is not str else raw)
    except ValueError as exc:
        _log.warning("tracewire: ignoring %s=%r (%s); using the default", env, raw, exc)
        return default


def _configs(kwargs: Dict[str, Any]) -> Tuple[_Config, _Config]:
    """The server's and the client's configuration, from ``instrument()``'s
    keyword arguments and the environment."""
    common: Dict[str, Any] = {
        "model": _setting(kwargs, "model", ENV_MODEL, _model, "connection"),
        "envelopes": _setting(kwargs, "envelopes", ENV_ENVELOPES, _envelopes, None),
        "json_path": _setting(kwargs, "json_path", ENV_JSON_PATH, str, ""),
        "mcp": _setting(kwargs, "mcp", ENV_MCP, _bool, False),
        "strip": _setting(kwargs, "strip", ENV_STRIP, _bool, None),
        "tracer_provider": kwargs.get("tracer_provider"),
    }
    server = _Config(trust=_setting(kwargs, "server_trust", ENV_SERVER_TRUST, _trust, None), **common)
    client = _Config(trust=_setting(kwargs, "client_trust", ENV_CLIENT_TRUST, _trust, None), **common)
    return server, client


class _Patches:
    """Attributes replaced by an instrumentor, restored by ``uninstrument``."""

    def __init__(self) -> None:
        self._saved: List[Tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        self._saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def restore(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)


# ---------------------------------------------------------------------------
# websockets


async def _one_message(message: Any, text: Optional[bool]) -> Any:
    """What ``websockets.send(message, text=...)`` sends, as one ``str``
    (text frame) or ``bytes`` (binary frame); ``None`` for what it refuses."""
    if isinstance(message, (str, bytes, bytearray, memoryview)):
        data: Any = message if isinstance(message, (str, bytes)) else bytes(message)
    elif isinstance(message, dict):
        return None
    elif hasattr(message, "__aiter__"):
        data = _join([fragment async for fragment in message])
    elif hasattr(message, "__iter__"):
        data = _join(list(message))
    else:
        return None
    if data is None:
        return None
    if text is True and isinstance(data, bytes):
        try:
            return data.decode()
        except UnicodeDecodeError:
            return None
    if text is False and isinstance(data, str):
        return data.encode()
    return data


def _join(fragments: List[Any]) -> Any:
    if fragments and all(isinstance(f, str) for f in fragments):
        return "".join(fragments)
    if all(isinstance(f, (bytes, bytearray, memoryview)) for f in fragments):
        return b"".join(fragments)
    return None


class _TracedWebSocket:
    """Mixed into the class of each instrumented ``websockets`` connection:
    ``send`` and ``recv`` (hence ``async for``) go through the connection's
    tracewire channel once the handshake set one."""

    _tw_channel: Optional[_Channel] = None
    _tw_held: Optional[_Held] = None

    @property
    def subprotocol(self) -> Any:
        channel = self._tw_channel
        if channel is None:
            return super().subprotocol  # type: ignore[misc]
        return channel.app_protocol

    async def send(self, message: Any, *args: Any, **kwargs: Any) -> None:
        channel = self._tw_channel
        if channel is not None and not args:
            payload = await _one_message(message, kwargs.get("text"))
            if payload is not None:
                await channel.send(payload, otel_context.get_current(), super().send)  # type: ignore[misc]
                return
            if not isinstance(message, (str, bytes, bytearray, memoryview, dict)) and hasattr(message, "__iter__"):
                raise TypeError("tracewire: fragments must all be str or all bytes-like")
        await super().send(message, *args, **kwargs)  # type: ignore[misc]

    async def recv(self, decode: Optional[bool] = None) -> Any:
        channel, held = self._tw_channel, self._tw_held
        if channel is None or held is None:
            return await super().recv(decode)  # type: ignore[misc]
        held.release()
        frame = await super().recv()  # type: ignore[misc]
        msg = channel.receive(frame)
        held.hold(msg)
        data = msg.data
        if decode is True and isinstance(data, bytes):
            return data.decode()
        if decode is False and isinstance(data, str):
            return data.encode()
        return data

    async def close(self, *args: Any, **kwargs: Any) -> None:
        if self._tw_held is not None:
            self._tw_held.release()
        await super().close(*args, **kwargs)  # type: ignore[misc]
        if self._tw_channel is not None:
            self._tw_channel.record_close(self)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        super().connection_lost(exc)  # type: ignore[misc]
        if self._tw_held is not None:
            self._tw_held.end()
        if self._tw_channel is not None:
            self._tw_channel.record_close(self)


class _TracedClientWebSocket(_TracedWebSocket):
    """The client side: each opening handshake starts its ``connect`` span
    under the caller's context and adds tracewire's request headers."""

    _tw_config: Optional[_Config] = None
    _tw_connect: Any = None

    def _tw_uri(self) -> str:
        uri = getattr(self._tw_connect, "uri", None)
        if isinstance(uri, str):
            return uri
        wsuri = self.protocol.wsuri  # type: ignore[attr-defined]
        scheme = "wss" if wsuri.secure else "ws"
        host = f"[{wsuri.host}]" if ":" in wsuri.host else wsuri.host
        return f"{scheme}://{host}:{wsuri.port}{wsuri.resource_name}"

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        config = self._tw_config
        if config is None:
            await super().handshake(*args, **kwargs)  # type: ignore[misc]
            return
        attempt = _ClientAttempt(self._tw_uri(), config, otel_context.get_current())
        positional = list(args)
        if positional:
            positional[0] = attempt.request_headers(positional[0])
        else:
            kwargs["additional_headers"] = attempt.request_headers(kwargs.get("additional_headers"))
        try:
            await super().handshake(*positional, **kwargs)  # type: ignore[misc]
        except BaseException as exc:
            attempt.fail(exc)
            raise
        self._tw_held = _Held()
        self._tw_channel = attempt.established(self.protocol.subprotocol)  # type: ignore[attr-defined]


_CLASSES: Dict[Tuple[type, type], type] = {}


def _traced_class(base: type, mixin: type) -> type:
    key = (base, mixin)
    cls = _CLASSES.get(key)
    if cls is None:
        cls = _CLASSES[key] = type(f"Traced{base.__name__}", (mixin, base), {"__module__": __name__})
    return cls


def _connection_factory(base: Any, mixin: type, setup: Callable[[Any], None]) -> Callable[..., Any]:
    """A ``create_connection`` for ``websockets`` that builds ``base``'s
    connections with ``mixin``'s tracing (``base`` is a class, as
    ``websockets`` documents, or any factory)."""

    def create(*args: Any, **kwargs: Any) -> Any:
        if isinstance(base, type):
            conn = _traced_class(base, mixin)(*args, **kwargs)
        else:
            conn = base(*args, **kwargs)
            if not isinstance(conn, mixin):
                conn.__class__ = _traced_class(type(conn), mixin)
        setup(conn)
        return conn

    return create


class WebsocketsInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces unmodified ``websockets`` asyncio clients and servers (see the
    module for what it does and its settings)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("websockets >= 13",)

    def _instrument(self, **kwargs: Any) -> None:
        import websockets.asyncio.client as ws_client
        import websockets.asyncio.server as ws_server

        server_config, client_config = _configs(kwargs)
        patches = self._patches = _Patches()
        patches.replace(ws_server, "serve", lambda original: _traced_serve(original, server_config, ws_server))
        patches.replace(ws_client.connect, "__init__", lambda original: _traced_connect_init(original, client_config, ws_client))

    def _uninstrument(self, **kwargs: Any) -> None:
        patches: Optional[_Patches] = getattr(self, "_patches", None)
        if patches is not None:
            patches.restore()


def _traced_serve(original: Callable[..., Any], config: _Config, module: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def serve(handler: Callable[[Any], Any], *args: Any, **kwargs: Any) -> Any:
        if _EXPLICIT.get():  # tracewire.ws.serve traces itself
            return original(handler, *args, **kwargs)
        apps = kwargs.get("subprotocols")
        hooks = _ServerHooks(
            config.with_app_protocols(list(apps) if apps else None),
            _server_scheme(kwargs),
            kwargs.pop("process_request", None),
            kwargs.pop("process_response", None),
            kwargs.pop("select_subprotocol", None),
        )

        async def traced_handler(ws: Any) -> None:
            channel = hooks.take(ws)
            if channel is None or not isinstance(ws, _TracedWebSocket):
                await handler(ws)
                return
            held = _Held()
            ws._tw_held, ws._tw_channel = held, channel
            await hooks.run(ws, channel, lambda: handler(ws), held)

        base = kwargs.pop("create_connection", None) or module.ServerConnection
        return original(
            traced_handler,
            *args,
            process_request=hooks.process_request,
            process_response=hooks.process_response,
            select_subprotocol=hooks.select_subprotocol,
            create_connection=_connection_factory(base, _TracedWebSocket, lambda conn: None),
            **kwargs,
        )

    return serve


def _traced_connect_init(original: Callable[..., None], config: _Config, module: Any) -> Callable[..., None]:
    from websockets.typing import Subprotocol

    from ._native import ClientHandshake

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if _EXPLICIT.get():  # tracewire.ws.connect traces itself
            original(self, *args, **kwargs)
            return
        apps = kwargs.get("subprotocols")
        client = config.with_app_protocols([str(p) for p in apps] if apps else None)
        offer = ClientHandshake(client.envelopes, app_protocols=client.app_protocols).subprotocols()
        kwargs["subprotocols"] = [Subprotocol(p) for p in offer] or None
        base = kwargs.pop("create_connection", None) or module.ClientConnection

        def setup(conn: Any) -> None:
            conn._tw_config = client
            conn._tw_connect = self

        kwargs["create_connection"] = _connection_factory(base, _TracedClientWebSocket, setup)
        original(self, *args, **kwargs)

    return __init__


# ---------------------------------------------------------------------------
# Starlette / FastAPI


class StarletteInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Traces the WebSocket endpoints of every Starlette application, FastAPI
    included: each application's ``__call__`` runs its ``websocket`` scopes
    through :class:`tracewire.asgi.TracewireMiddleware` (server settings of
    the module). ``uninstrument()`` takes effect for the next connection."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("starlette >= 0.20",)

    def _instrument(self, **kwargs: Any) -> None:
        import starlette.applications

        from .asgi import SCOPE_KEY, TracewireMiddleware

        server_config, _ = _configs(kwargs)
        middleware = TracewireMiddleware._from_config(server_config)
        patches = self._patches = _Patches()

        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            # A coroutine function, as the original (ASGI servers tell ASGI 3
            # applications by that).
            @functools.wraps(original)
            async def __call__(app: Any, scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] != "websocket" or SCOPE_KEY in scope:
                    await original(app, scope, receive, send)
                    return
                await middleware.traced(functools.partial(original, app), scope, receive, send)

            return __call__

        patches.replace(starlette.applications.Starlette, "__call__", make)

    def _uninstrument(self, **kwargs: Any) -> None:
        patches: Optional[_Patches] = getattr(self, "_patches", None)
        if patches is not None:
            patches.restore()

