//! The numbers of the C ABI: its version and the enum codes, each equal to
//! the bridge's table (`tracewire_bridge::codes`), which the tests below check.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

/// The version of this ABI. It changes whenever a function's signature or a
/// struct's layout changes; the Go package checks it at start-up.
pub const TW_ABI_VERSION: u32 = 4;

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
/// Link: the received span context (a peer not trusted as a parent).
pub const TW_LINK_REMOTE: u32 = 1;

/// Trust policy: the received context is the parent (trusted).
pub const TW_REMOTE_CONTEXT_PARENT: u32 = 0;
/// Trust policy: a new trace, linked to the received context.
pub const TW_REMOTE_CONTEXT_LINK: u32 = 1;
/// Trust policy: the received span context is dropped.
pub const TW_REMOTE_CONTEXT_IGNORE: u32 = 2;
/// Baggage policy: keep every received member.
pub const TW_BAGGAGE_KEEP_ALL: u32 = 0;
/// Baggage policy: keep the listed keys only.
pub const TW_BAGGAGE_ALLOW_KEYS: u32 = 1;
/// Baggage policy: keep none.
pub const TW_BAGGAGE_DROP: u32 = 2;

/// [`tw_target_from_request`]: the server cannot tell `ws` from `wss`.
pub const TW_SCHEME_UNKNOWN: i32 = -1;
/// Scheme `ws` (default port 80).
pub const TW_SCHEME_WS: i32 = 0;
/// Scheme `wss` (default port 443).
pub const TW_SCHEME_WSS: i32 = 1;

/// [`tw_choose`] availability bit: the received context has a span context.
pub const TW_AVAILABLE_REMOTE_HAS_SPAN: u32 = 1;
/// Availability bit: the received context carries baggage.
pub const TW_AVAILABLE_REMOTE_HAS_BAGGAGE: u32 = 2;
/// Availability bit: the caller's current context holds a valid span.
pub const TW_AVAILABLE_AMBIENT_HAS_SPAN: u32 = 4;
/// Availability bit: the caller's span has the connection span's trace id.
pub const TW_AVAILABLE_AMBIENT_IN_CONNECTION_TRACE: u32 = 8;
/// Availability bit: the caller's span is the connection span itself.
pub const TW_AVAILABLE_AMBIENT_IS_CONNECTION: u32 = 16;
/// Availability bit: there is a connection span with a valid span context.
pub const TW_AVAILABLE_CONNECTION_HAS_SPAN: u32 = 32;

/// [`tw_choose`] result, bits 0-7: the parent is the received context's span.
pub const TW_APPLIED_PARENT_REMOTE: u32 = 0;
/// Result parent: the caller's current span.
pub const TW_APPLIED_PARENT_AMBIENT: u32 = 1;
/// Result parent: the connection span.
pub const TW_APPLIED_PARENT_CONNECTION: u32 = 2;
/// Result parent: none, the span starts a new trace.
pub const TW_APPLIED_PARENT_NEW_TRACE: u32 = 3;
/// [`tw_choose`] result, bits 8-15 (shifted down): the received baggage.
pub const TW_APPLIED_BAGGAGE_REMOTE: u32 = 0;
/// Result baggage: the caller's current baggage.
pub const TW_APPLIED_BAGGAGE_AMBIENT: u32 = 1;
/// Result baggage: the baggage of the context holding the connection span.
pub const TW_APPLIED_BAGGAGE_CONNECTION: u32 = 2;
/// Result baggage: none.
pub const TW_APPLIED_BAGGAGE_NONE: u32 = 3;
/// [`tw_choose`] result bit: link the connection span.
pub const TW_APPLIED_LINK_CONNECTION: u32 = 1 << 16;
/// [`tw_choose`] result bit: link the received span context.
pub const TW_APPLIED_LINK_REMOTE: u32 = 1 << 17;

/// Stream kind: any stream of chunks.
pub const TW_STREAM_GENERIC: u32 = 0;
/// Stream kind: a model's output (GenAI metric names).
pub const TW_STREAM_MODEL_OUTPUT: u32 = 1;

/// Default largest WebSocket message accepted, in bytes (1 MiB): the core's
/// `tracewire::limits::WS_MAX_MESSAGE_SIZE` (docs/PROTOCOL.md section 11.1).
/// A binding's traced client and server apply it unless configured otherwise.
pub const TW_WS_MAX_MESSAGE_SIZE: usize = 1 << 20;
/// Default largest WebSocket frame accepted, in bytes (1 MiB, the message
/// limit): `tracewire::limits::WS_MAX_FRAME_SIZE`.
pub const TW_WS_MAX_FRAME_SIZE: usize = 1 << 20;
/// Default write buffer, in bytes (128 KiB): `tracewire::limits::WS_WRITE_BUFFER_SIZE`.
pub const TW_WS_WRITE_BUFFER_SIZE: usize = 128 * 1024;
/// Default most bytes queued for writing (4 MiB):
/// `tracewire::limits::WS_MAX_WRITE_BUFFER_SIZE`.
pub const TW_WS_MAX_WRITE_BUFFER_SIZE: usize = 4 << 20;
/// Default longest opening handshake, in milliseconds (10 s):
/// `tracewire::limits::WS_HANDSHAKE_TIMEOUT`.
pub const TW_WS_HANDSHAKE_TIMEOUT_MS: u32 = 10_000;
/// The largest opening handshake request a server reads, in bytes (64 KiB):
/// `tracewire::limits::WS_HANDSHAKE_MAX_REQUEST_BYTES`.
pub const TW_WS_HANDSHAKE_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Slots of a cache shared by all goroutines (the cache policy,
/// docs/ARCHITECTURE.md "Caches"): `tracewire::limits::CACHE_SHARED_SLOTS`.
pub const TW_CACHE_SHARED_SLOTS: usize = 256;
/// The longest key a cache keeps, in bytes:
/// `tracewire::limits::CACHE_MAX_KEY_BYTES`.
pub const TW_CACHE_MAX_KEY_BYTES: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use tracewire::StreamKind;
    use tracewire::model::RemoteContext;
    use tracewire::model::{
        Applied, BaggageSource, LinkSource, MessageType, Model, Parent, ParentSource, Role,
        SpanKind,
    };
    use tracewire::target::Scheme;
    use tracewire_bridge::{
        AVAILABLE_BITS, BaggagePolicyKind, Coded, DecodedKind, available_from_bits, pack_applied,
    };

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
        same(&[
            (TW_LINK_CONNECTION, LinkSource::Connection),
            (TW_LINK_REMOTE, LinkSource::Remote),
        ]);
        same(&[
            (TW_REMOTE_CONTEXT_PARENT, RemoteContext::Parent),
            (TW_REMOTE_CONTEXT_LINK, RemoteContext::Link),
            (TW_REMOTE_CONTEXT_IGNORE, RemoteContext::Ignore),
        ]);
        same(&[
            (TW_BAGGAGE_KEEP_ALL, BaggagePolicyKind::KeepAll),
            (TW_BAGGAGE_ALLOW_KEYS, BaggagePolicyKind::AllowKeys),
            (TW_BAGGAGE_DROP, BaggagePolicyKind::Drop),
        ]);
        same(&[
            (TW_STREAM_GENERIC, StreamKind::Generic),
            (TW_STREAM_MODEL_OUTPUT, StreamKind::ModelOutput),
        ]);
        same(&[
            (TW_APPLIED_PARENT_REMOTE, Parent::Remote),
            (TW_APPLIED_PARENT_AMBIENT, Parent::Ambient),
            (TW_APPLIED_PARENT_CONNECTION, Parent::Connection),
            (TW_APPLIED_PARENT_NEW_TRACE, Parent::NewTrace),
        ]);
        same(&[
            (TW_APPLIED_BAGGAGE_REMOTE, BaggageSource::Remote),
            (TW_APPLIED_BAGGAGE_AMBIENT, BaggageSource::Ambient),
            (TW_APPLIED_BAGGAGE_CONNECTION, BaggageSource::Connection),
            (TW_APPLIED_BAGGAGE_NONE, BaggageSource::None),
        ]);
        let link = Applied {
            parent: Parent::Remote,
            link_connection: true,
            link_remote: false,
            baggage: BaggageSource::Remote,
        };
        assert_eq!(pack_applied(link), TW_APPLIED_LINK_CONNECTION);
        let link = Applied {
            link_connection: false,
            link_remote: true,
            ..link
        };
        assert_eq!(pack_applied(link), TW_APPLIED_LINK_REMOTE);
        let bits = [
            TW_AVAILABLE_REMOTE_HAS_SPAN,
            TW_AVAILABLE_REMOTE_HAS_BAGGAGE,
            TW_AVAILABLE_AMBIENT_HAS_SPAN,
            TW_AVAILABLE_AMBIENT_IN_CONNECTION_TRACE,
            TW_AVAILABLE_AMBIENT_IS_CONNECTION,
            TW_AVAILABLE_CONNECTION_HAS_SPAN,
        ];
        assert_eq!(bits.len(), AVAILABLE_BITS.len());
        for (i, bit) in bits.iter().enumerate() {
            assert_eq!(*bit, 1 << i, "{}", AVAILABLE_BITS[i]);
            assert!(available_from_bits(*bit).is_ok());
        }
        assert_eq!(
            [TW_SCHEME_WS, TW_SCHEME_WSS].map(|c| Scheme::ALL[c as usize]),
            [Scheme::Ws, Scheme::Wss]
        );
        assert_eq!(Scheme::ALL.len(), 2);
        assert_eq!(TW_ENVELOPE_JSON, tracewire_bridge::ENVELOPE_JSON);
        assert_eq!(TW_ENVELOPE_BINARY, tracewire_bridge::ENVELOPE_BINARY);
    }

    #[test]
    fn the_websocket_limits_are_the_cores() {
        use std::time::Duration;
        use tracewire::limits;
        assert_eq!(TW_WS_MAX_MESSAGE_SIZE, limits::WS_MAX_MESSAGE_SIZE);
        assert_eq!(TW_WS_MAX_FRAME_SIZE, limits::WS_MAX_FRAME_SIZE);
        assert_eq!(TW_WS_WRITE_BUFFER_SIZE, limits::WS_WRITE_BUFFER_SIZE);
        assert_eq!(
            TW_WS_MAX_WRITE_BUFFER_SIZE,
            limits::WS_MAX_WRITE_BUFFER_SIZE
        );
        assert_eq!(
            Duration::from_millis(TW_WS_HANDSHAKE_TIMEOUT_MS.into()),
            limits::WS_HANDSHAKE_TIMEOUT
        );
        assert_eq!(
            TW_WS_HANDSHAKE_MAX_REQUEST_BYTES,
            limits::WS_HANDSHAKE_MAX_REQUEST_BYTES
        );
    }

    #[test]
    fn the_cache_bounds_are_the_cores() {
        use tracewire::limits;
        assert_eq!(TW_CACHE_SHARED_SLOTS, limits::CACHE_SHARED_SLOTS);
        assert_eq!(TW_CACHE_MAX_KEY_BYTES, limits::CACHE_MAX_KEY_BYTES);
    }
}
