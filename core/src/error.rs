//! Stable error codes shared by every error type in the crate.
//!
//! Each function returns an error type listing only what it can fail with;
//! every such type maps to one [`ErrorCode`], whose numeric value is part of
//! the public contract of the C ABI, the Python, Go and Java bindings.

/// A stable numeric code for each class of failure.
///
/// The numbers never change meaning; new codes are only ever appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A `traceparent` value is malformed.
    InvalidTraceParent = 1,
    /// A `tracestate` value or one of its keys or values is malformed.
    InvalidTraceState = 2,
    /// A `baggage` value or one of its members is malformed or over a limit.
    InvalidBaggage = 3,
    /// A frame claims to carry an envelope but the envelope is malformed.
    InvalidEnvelope = 4,
    /// A frame carries an envelope of a version this library does not know.
    UnsupportedEnvelopeVersion = 5,
    /// A payload cannot take a JSON envelope (not a JSON object, or the member
    /// path does not lead to an object).
    NotJsonObject = 6,
    /// A serialised context carrier is malformed.
    InvalidCarrier = 7,
    /// An argument is out of its allowed range.
    InvalidArgument = 8,
    /// A WebSocket URL or request target cannot be read (scheme, host, port
    /// or path).
    InvalidUrl = 9,
    /// A panic was caught at a language boundary (bindings only).
    Panic = 100,
}

crate::names::names!(ErrorCode, "unknown error code name", {
    InvalidTraceParent => "invalid_traceparent",
    InvalidTraceState => "invalid_tracestate",
    InvalidBaggage => "invalid_baggage",
    InvalidEnvelope => "invalid_envelope",
    UnsupportedEnvelopeVersion => "unsupported_envelope_version",
    NotJsonObject => "not_json_object",
    InvalidCarrier => "invalid_carrier",
    InvalidArgument => "invalid_argument",
    InvalidUrl => "invalid_url",
    Panic => "panic",
});

impl ErrorCode {
    /// The numeric value of the code, as exposed over FFI.
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// The code with numeric value `code`, if there is one (for bindings that
    /// receive the number across FFI).
    pub fn from_u32(code: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_u32() == code)
    }

    /// A short, stable, machine-readable name (`"invalid_traceparent"`, ...);
    /// the same as [`as_str`](Self::as_str), kept for existing callers.
    pub const fn name(self) -> &'static str {
        self.as_str()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An argument outside its allowed range, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argument: {0}")]
pub struct InvalidArgument(pub &'static str);

impl InvalidArgument {
    /// The stable error code.
    pub const fn code(&self) -> ErrorCode {
        ErrorCode::InvalidArgument
    }
}
