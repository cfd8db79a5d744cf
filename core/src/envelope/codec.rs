//! The message codec: for a connection's negotiation state, what goes on the
//! wire for each outgoing data frame, what the application sees of each
//! incoming one, and what a malformed envelope leaves on the receive span
//! (`docs/PROTOCOL.md` section 3.4). Every traced socket, in every language,
//! runs its frames through these rules instead of writing its own.
//!
//! | frame | negotiated | outgoing | incoming |
//! |---|---|---|---|
//! | text, a JSON object | `json` | envelope object written at the path | envelope object read, and stripped unless configured not to |
//! | text, anything else | `json` | untouched | untouched, no context |
//! | binary | `binary` | prefixed, even with an empty context | prefix read and removed; a malformed one is kept and reported |
//! | either | not negotiated | untouched | untouched, no context |
//!
//! In MCP mode ([`JsonEnvelope::mcp`]) text frames are read and written as if
//! `json` were negotiated, whatever the handshake said: MCP peers carry their
//! context in `_meta` unconditionally.
//!
//! A malformed envelope never loses the frame: it is delivered with its
//! original bytes, and the receive span gets the OpenTelemetry `exception`
//! event from [`exception_event`].
//!
//! ```
//! use tracewire::envelope::codec::Codec;
//! use tracewire::envelope::json::JsonEnvelope;
//! use tracewire::handshake::Envelopes;
//! use tracewire::model::MessageType;
//! use tracewire::{TraceContext, TraceParent};
//!
//! let codec = Codec::new(Envelopes::ALL, JsonEnvelope::default());
//! let ctx = TraceContext {
//!     traceparent: Some(TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?),
//!     ..Default::default()
//! };
//! let wire = codec.encode(MessageType::Text, br#"{"text":"hi"}"#, &ctx);
//! let received = codec.decode(MessageType::Text, &wire);
//! assert_eq!(received.context().and_then(|c| c.traceparent), ctx.traceparent);
//! // Stripping is the default: the handler sees what the sender wrote.
//! assert_eq!(received.payload(), br#"{"text":"hi"}"#);
//! // Not a JSON object: passed through, nothing to read on the other side.
//! assert_eq!(&*codec.encode(MessageType::Text, b"hello", &ctx), b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::json::JsonEnvelope;
use super::{Decoded, EnvelopeError, binary};
use crate::attributes::KeyValue;
use crate::context::TraceContext;
use crate::handshake::Envelopes;
use crate::model::{Event, MessageType, keys};
use std::borrow::Cow;

/// The envelope rules of one connection: the envelopes both peers accepted
/// and where (and whether to strip) the JSON members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Codec {
    envelopes: Envelopes,
    json: JsonEnvelope,
}

impl Codec {
    /// The codec for a connection that negotiated `envelopes` (see
    /// [`crate::handshake`]), with JSON members placed and stripped as `json`
    /// says (the default strips).
    pub fn new(envelopes: Envelopes, json: JsonEnvelope) -> Self {
        Codec { envelopes, json }
    }

    /// The envelopes this codec reads and writes.
    pub fn envelopes(&self) -> Envelopes {
        self.envelopes
    }

    /// Where the JSON members live and whether they are stripped.
    pub fn json(&self) -> &JsonEnvelope {
        &self.json
    }

    /// Whether text frames carry the JSON envelope: negotiated, or MCP mode,
    /// which third-party MCP peers use without any negotiation.
    fn reads_json(&self) -> bool {
        self.envelopes.json || self.json.is_mcp()
    }

    /// The frame to send for an application `payload` sent in the span whose
    /// context is `ctx`. Borrowed: send `payload` as it is (the envelope was
    /// not negotiated, or a text payload is not a JSON object, so it cannot
    /// carry one). Owned: send this frame instead. A text payload stays UTF-8.
    pub fn encode<'a>(
        &self,
        message_type: MessageType,
        payload: &'a [u8],
        ctx: &TraceContext,
    ) -> Cow<'a, [u8]> {
        let mut out = Vec::new();
        if self.encode_into(message_type, payload, ctx, &mut out) {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(payload)
        }
    }

    /// Like [`encode`](Self::encode), writing into `out` (cleared first) so
    /// a sender can reuse one buffer. `true`: send `out`; `false`: send
    /// `payload` as it is (`out` is then left empty).
    pub fn encode_into(
        &self,
        message_type: MessageType,
        payload: &[u8],
        ctx: &TraceContext,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        match message_type {
            MessageType::Text if self.reads_json() => {
                // An uninstrumented peer must get the same bytes it would
                // without tracewire; a frame that cannot carry members does.
                let injected = self.json.inject_into(payload, ctx, out).is_ok();
                if !injected {
                    out.clear();
                }
                injected
            }
            // Once binary is negotiated every binary frame is prefixed, so the
            // receiver never has to guess.
            MessageType::Binary if self.envelopes.binary => {
                binary::encode_into(ctx, payload, out);
                true
            }
            _ => false,
        }
    }

    /// Reads a received frame: [`Decoded::payload`] is what the application
    /// sees, [`Decoded::context`] the sender's context (the receive span's
    /// remote parent), [`Decoded::error`] what to record with
    /// [`exception_event`]. Envelopes not negotiated are not read.
    pub fn decode<'a>(&self, message_type: MessageType, frame: &'a [u8]) -> Decoded<'a> {
        match message_type {
            MessageType::Text if self.reads_json() => self.json.extract(frame),
            MessageType::Binary if self.envelopes.binary => binary::decode(frame),
            _ => Decoded::Plain(frame),
        }
    }

    /// The application payload's size in a frame [`decode`](Self::decode)
    /// read, for `messaging.message.body.size` on the receive span: never the
    /// envelope, even when JSON members are not stripped.
    pub fn payload_size(&self, message_type: MessageType, decoded: &Decoded<'_>) -> usize {
        match message_type {
            MessageType::Text => self.json.payload_size(decoded),
            MessageType::Binary => decoded.payload().len(),
        }
    }
}

/// What a malformed envelope records on the receive span: the OpenTelemetry
/// `exception` event, with `exception.type` the error code's stable name and
/// `exception.message` the error's text. The span status is left alone: the
/// message is still delivered and processed.
pub fn exception_event(error: &EnvelopeError) -> Event {
    Event {
        name: keys::EXCEPTION_EVENT,
        attributes: vec![
            KeyValue::new(keys::EXCEPTION_TYPE, error.code().as_str()),
            KeyValue::new(keys::EXCEPTION_MESSAGE, error.to_string()),
        ],
    }
}
