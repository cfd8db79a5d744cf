//! The numbers of the C ABI: its version and the enum codes, each equal to
//! the bridge's table (`tracewire_bridge::codes`), which the tests below check.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

/// The version of this ABI. It changes whenever a function's signature or a
/// struct's layout changes; the Go package checks it at start-up.
pub const TW_ABI_VERSION: u32 = 2;

/// [`TwDecoded::outcome`]: the frame carries no envelope.
pub const TW_DECODED_PLAIN: u32 = 0;
/// [`TwDecoded::outcome`]: the frame carries a valid envelope.
pub const TW_DECODED_ENVELOPED: u32 = 1;
/// [`TwDecoded::outcome`]: the frame claims an envelope that is malformed.
pub const TW_DECODED_MALFORMED: u32 = 2;

/// Envelope set bit: the JSON envelope (token `json`).
pub const TW_ENVELOPE_JSON: u32 = 1;
/// Envelope set bit: the binary envelope (token `binary`).
pub const TW_ENVELOPE_BINARY: u32 = 2;

/// Tracing model `connection`.
pub const TW_MODEL_CONNECTION: u32 = 0;
/// Tracing model `message`.
pub const TW_MODEL_MESSAGE: u32 = 1;
/// The side that sent the upgrade request.
pub const TW_ROLE_CLIENT: u32 = 0;
/// The side that accepted it.
pub const TW_ROLE_SERVER: u32 = 1;
/// A text data frame.
pub const TW_MESSAGE_TEXT: u32 = 0;
/// A binary data frame.
pub const TW_MESSAGE_BINARY: u32 = 1;

/// Span kind CLIENT.
pub const TW_SPAN_KIND_CLIENT: u32 = 0;
/// Span kind SERVER.
pub const TW_SPAN_KIND_SERVER: u32 = 1;
/// Span kind PRODUCER.
pub const TW_SPAN_KIND_PRODUCER: u32 = 2;
/// Span kind CONSUMER.
pub const TW_SPAN_KIND_CONSUMER: u32 = 3;
/// Span kind INTERNAL.
pub const TW_SPAN_KIND_INTERNAL: u32 = 4;

/// Parent candidate: the context received with the handshake or the message.
pub const TW_PARENT_REMOTE: u32 = 0;
/// Parent candidate: the caller's current span.
pub const TW_PARENT_AMBIENT: u32 = 1;
/// Parent candidate: the caller's current span, if in the connection span's trace.
pub const TW_PARENT_AMBIENT_IN_CONNECTION_TRACE: u32 = 2;
/// Parent candidate: the connection span.
pub const TW_PARENT_CONNECTION: u32 = 3;
/// Link: the connection span.
pub const TW_LINK_CONNECTION: u32 = 0;

/// Stream kind: any stream of chunks.
pub const TW_STREAM_GENERIC: u32 = 0;
/// Stream kind: a model's output (GenAI metric names).
pub const TW_STREAM_MODEL_OUTPUT: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use tracewire::StreamKind;
    use tracewire::model::{LinkSource, MessageType, Model, ParentSource, Role, SpanKind};
    use tracewire_bridge::{Coded, DecodedKind};

    fn same<T: Coded + std::fmt::Debug>(c: &[(u32, T)]) {
        assert_eq!(c.len(), T::ALL.len(), "every {} has a constant", T::WHAT);
        for (n, v) in c {
            assert_eq!(*n, u32::from(v.code()), "{v:?}");
        }
    }

    #[test]
    fn the_constants_are_the_bridge_codes() {
        same(&[
            (TW_DECODED_PLAIN, DecodedKind::Plain),
            (TW_DECODED_ENVELOPED, DecodedKind::Enveloped),
            (TW_DECODED_MALFORMED, DecodedKind::Malformed),
        ]);
        same(&[
            (TW_MODEL_CONNECTION, Model::Connection),
            (TW_MODEL_MESSAGE, Model::Message),
        ]);
        same(&[
            (TW_ROLE_CLIENT, Role::Client),
            (TW_ROLE_SERVER, Role::Server),
        ]);
        same(&[
            (TW_MESSAGE_TEXT, MessageType::Text),
            (TW_MESSAGE_BINARY, MessageType::Binary),
        ]);
        same(&[
            (TW_SPAN_KIND_CLIENT, SpanKind::Client),
            (TW_SPAN_KIND_SERVER, SpanKind::Server),
            (TW_SPAN_KIND_PRODUCER, SpanKind::Producer),
            (TW_SPAN_KIND_CONSUMER, SpanKind::Consumer),
            (TW_SPAN_KIND_INTERNAL, SpanKind::Internal),
        ]);
        same(&[
            (TW_PARENT_REMOTE, ParentSource::Remote),
            (TW_PARENT_AMBIENT, ParentSource::Ambient),
            (
                TW_PARENT_AMBIENT_IN_CONNECTION_TRACE,
                ParentSource::AmbientInConnectionTrace,
            ),
            (TW_PARENT_CONNECTION, ParentSource::Connection),
        ]);
        same(&[(TW_LINK_CONNECTION, LinkSource::Connection)]);
        same(&[
            (TW_STREAM_GENERIC, StreamKind::Generic),
            (TW_STREAM_MODEL_OUTPUT, StreamKind::ModelOutput),
        ]);
        assert_eq!(TW_ENVELOPE_JSON, tracewire_bridge::ENVELOPE_JSON);
        assert_eq!(TW_ENVELOPE_BINARY, tracewire_bridge::ENVELOPE_BINARY);
    }
}
