//! Trace context carried inside WebSocket messages.
//!
//! After the handshake a WebSocket has no headers, so each message carries
//! its own context in an *envelope*, negotiated in the handshake
//! ([`crate::handshake`]):
//!
//! - [`json`]: an envelope object holding `traceparent` / `tracestate` /
//!   `baggage` members in a text frame holding a JSON object, at a
//!   configurable member path (or MCP's `_meta`);
//! - [`binary`]: a compact prefix before the payload of a binary frame.
//!
//! [`codec`] decides, for a connection's negotiation state, which of them a
//! frame gets on the way out and which is read on the way in.
//!
//! Decoding never loses a frame: a frame without an envelope comes back as
//! [`Decoded::Plain`], and a frame whose envelope is malformed comes back as
//! [`Decoded::Malformed`] with the error **and** the original bytes.

pub mod binary;
pub mod codec;
pub mod json;

use crate::context::TraceContext;
use crate::error::ErrorCode;
use crate::traceparent::TraceParentError;
use std::borrow::Cow;

/// The outcome of decoding one received frame. Every variant holds the bytes
/// the application should see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The frame carries no envelope: here it is, untouched.
    Plain(&'a [u8]),
    /// The frame carried an envelope: its context and the application payload
    /// (borrowed from the frame unless members had to be stripped).
    Enveloped(TraceContext, Cow<'a, [u8]>),
    /// The frame claims an envelope that is malformed: why, and the bytes to
    /// deliver: the frame as it came, or the payload after a binary envelope
    /// of a version this library does not read (its length says where the
    /// payload starts).
    Malformed(EnvelopeError, &'a [u8]),
}

impl<'a> Decoded<'a> {
    /// The bytes to hand the application, whatever the outcome.
    pub fn payload(&self) -> &[u8] {
        match self {
            Decoded::Plain(b) | Decoded::Malformed(_, b) => b,
            Decoded::Enveloped(_, p) => p,
        }
    }

    /// The received context, if the frame carried a valid envelope.
    pub fn context(&self) -> Option<&TraceContext> {
        match self {
            Decoded::Enveloped(ctx, _) => Some(ctx),
            _ => None,
        }
    }

    /// The decoding error, if the envelope was malformed.
    pub fn error(&self) -> Option<&EnvelopeError> {
        match self {
            Decoded::Malformed(e, _) => Some(e),
            _ => None,
        }
    }
}

/// Why a frame could not be enveloped, or why a received envelope is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The payload is not a JSON object, or a member on the configured path
    /// exists but is not an object, so no members can be added.
    #[error("cannot add trace context: {0}")]
    NotJsonObject(&'static str),
    /// An envelope member is not a JSON string.
    #[error("envelope member {0} is not a JSON string")]
    NotAString(&'static str),
    /// The envelope's `traceparent` is invalid.
    #[error("envelope traceparent is invalid: {0}")]
    TraceParent(#[from] TraceParentError),
    /// A binary envelope ends before its declared fields.
    #[error("binary envelope truncated: {needed} bytes needed, {available} available")]
    Truncated {
        /// Bytes the header declares.
        needed: usize,
        /// Bytes present in the frame.
        available: usize,
    },
    /// A binary envelope has a version this library does not implement.
    #[error("binary envelope version {0} is not supported (this library reads version 1)")]
    UnsupportedVersion(u8),
    /// A binary envelope sets flag bits that version 1 reserves.
    #[error("binary envelope sets reserved flag bits {0:#04x}")]
    ReservedFlags(u8),
    /// A binary envelope's fields contradict each other or hold an invalid value.
    #[error("binary envelope is invalid: {0}")]
    InvalidField(&'static str),
}

impl EnvelopeError {
    /// The stable error code.
    pub const fn code(&self) -> ErrorCode {
        match self {
            EnvelopeError::NotJsonObject(_) => ErrorCode::NotJsonObject,
            EnvelopeError::UnsupportedVersion(_) => ErrorCode::UnsupportedEnvelopeVersion,
            EnvelopeError::TraceParent(_) => ErrorCode::InvalidTraceParent,
            _ => ErrorCode::InvalidEnvelope,
        }
    }
}
