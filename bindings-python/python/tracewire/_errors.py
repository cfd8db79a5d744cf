"""The exception hierarchy and error codes.

Every exception tracewire raises is a :class:`Error`; each carries the core's
stable numeric :class:`ErrorCode`, the same in every language. Leaves also
subclass the matching builtin (``ValueError`` for bad input,
``RuntimeError`` for an internal failure), so ``except ValueError`` keeps
working.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Dict, Optional, Type

__all__ = [
    "ErrorCode",
    "Error",
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


class ErrorCode(IntEnum):
    """The core's stable error codes (``docs/PROTOCOL.md`` section 8).

    The members mirror ``tracewire::ErrorCode``; the test suite checks them
    against the native module's own list.
    """

    INVALID_TRACEPARENT = 1
    INVALID_TRACESTATE = 2
    INVALID_BAGGAGE = 3
    INVALID_ENVELOPE = 4
    UNSUPPORTED_ENVELOPE_VERSION = 5
    NOT_JSON_OBJECT = 6
    INVALID_CARRIER = 7
    INVALID_ARGUMENT = 8
    INVALID_URL = 9
    PANIC = 100

    @property
    def code_name(self) -> str:
        """The core's machine-readable name, e.g. ``"invalid_traceparent"``."""
        return self.name.lower()


class Error(Exception):
    """Base class of every tracewire exception.

    Attributes:
        code: the core's :class:`ErrorCode` for this failure.
    """

    code: ErrorCode = ErrorCode.INVALID_ARGUMENT

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = ErrorCode(code)

    @property
    def message(self) -> str:
        """The human-readable description."""
        return str(self.args[0]) if self.args else ""


class InvalidTraceParentError(Error, ValueError):
    """A ``traceparent`` value is malformed."""

    code = ErrorCode.INVALID_TRACEPARENT


class InvalidTraceStateError(Error, ValueError):
    """A ``tracestate`` value, key or value is malformed."""

    code = ErrorCode.INVALID_TRACESTATE


class InvalidBaggageError(Error, ValueError):
    """A ``baggage`` value, key or member is malformed."""

    code = ErrorCode.INVALID_BAGGAGE


class InvalidEnvelopeError(Error, ValueError):
    """A frame claims an envelope that is malformed, or a carrier is bad."""

    code = ErrorCode.INVALID_ENVELOPE


class UnsupportedEnvelopeVersionError(InvalidEnvelopeError):
    """A binary envelope of a version this library does not read."""

    code = ErrorCode.UNSUPPORTED_ENVELOPE_VERSION


class NotJsonObjectError(Error, ValueError):
    """A frame cannot take a JSON envelope (not a JSON object)."""

    code = ErrorCode.NOT_JSON_OBJECT


class InvalidCarrierError(Error, ValueError):
    """A serialised context carrier is malformed (reserved)."""

    code = ErrorCode.INVALID_CARRIER


class InvalidArgumentError(Error, ValueError):
    """An argument is out of its allowed range (model name, member path...)."""

    code = ErrorCode.INVALID_ARGUMENT


class InvalidUrlError(Error, ValueError):
    """A WebSocket URL or request target cannot be read (scheme, host, port
    or path)."""

    code = ErrorCode.INVALID_URL


class InternalError(Error, RuntimeError):
    """An internal failure (a Rust panic) caught at the language boundary."""

    code = ErrorCode.PANIC


_BY_CODE: Dict[int, Type[Error]] = {
    cls.code: cls
    for cls in (
        InvalidTraceParentError,
        InvalidTraceStateError,
        InvalidBaggageError,
        InvalidEnvelopeError,
        UnsupportedEnvelopeVersionError,
        NotJsonObjectError,
        InvalidCarrierError,
        InvalidArgumentError,
        InvalidUrlError,
        InternalError,
    )
}


def _from_core(code: int, message: str) -> Error:
    """Builds the exception for a core error (called by the native module)."""
    cls = _BY_CODE.get(code, Error)
    return cls(message, code)
