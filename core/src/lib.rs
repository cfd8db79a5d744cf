//! # tracewire
//!
//! End-to-end OpenTelemetry trace context over WebSocket.
//!
//! HTTP tracing carries the W3C `traceparent` header on every request; a
//! WebSocket has headers only in its opening handshake. This crate carries
//! the context across the handshake and inside every message after it, and
//! decides how spans on a connection relate. It is the one implementation of
//! the protocol in `docs/PROTOCOL.md`; the Python, Go and Java bindings call
//! into it.
//!
//! | module | what it implements |
//! |---|---|
//! | [`traceparent`], [`tracestate`] | [W3C Trace Context Level 2](https://www.w3.org/TR/trace-context-2/) |
//! | [`baggage`] | [W3C Baggage](https://www.w3.org/TR/baggage/) |
//! | [`context`] | [`TraceContext`], the value every carrier moves, and the queue carrier |
//! | [`handshake`] | headers and query strings in the upgrade, envelope negotiation (subprotocols) |
//! | [`envelope`] | context inside JSON text frames and binary frames; [`envelope::codec`], what each frame becomes for a negotiation state |
//! | [`target`] | URL to `server.address`, `server.port` and the raw `url.path` |
//! | [`model`] | span name, kind, parent, links and attributes per event, and how a binding applies them ([`model::choose`]) |
//! | [`limits`] | size budgets applied before parsing any untrusted input, and the WebSocket limits |
//! | [`metrics`] | lock-free stream metrics: time to first and last chunk, intervals |
//! | `otel` (feature `otel`) | conversions to and from the `opentelemetry` API |
//! | `otel::export` (feature `otlp`) | OTLP/HTTP export from the `OTEL_*` variables |
//! | `ws` (feature `tokio-tungstenite`) | a traced client and server |
//!
//! Nothing here panics on any input, and nothing is lost: an invalid header
//! is ignored as W3C requires, and a frame whose envelope is malformed is
//! handed back with its bytes and a typed error.
//!
//! ```
//! use tracewire::envelope::{binary, Decoded};
//! use tracewire::handshake::{AppProtocols, ClientHandshake, Envelopes, ServerHandshake};
//! use tracewire::{TraceContext, TraceParent};
//!
//! // The client's span, as it would come from its OpenTelemetry SDK.
//! let ctx = TraceContext {
//!     traceparent: Some(TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?),
//!     ..Default::default()
//! };
//!
//! // Handshake: the client writes headers and offers envelopes as
//! // subprotocols, the server reads them and selects one.
//! let client = ClientHandshake::new(Envelopes::ALL);
//! let mut request: Vec<(String, String)> = Vec::new();
//! client.request_headers(&ctx, &mut request);
//! request.push(("sec-websocket-protocol".into(), client.subprotocols().join(", ")));
//! let server = ServerHandshake::from_request(&request, None, Envelopes::ALL, &AppProtocols::default());
//! assert_eq!(server.context.traceparent, ctx.traceparent);
//! assert!(client.negotiated(server.subprotocol.as_deref()).envelopes.binary);
//!
//! // Every binary message then carries the sender's context.
//! let frame = binary::encode(&ctx, b"audio chunk");
//! match binary::decode(&frame) {
//!     Decoded::Enveloped(received, payload) => {
//!         assert_eq!(received.traceparent, ctx.traceparent);
//!         assert_eq!(&*payload, b"audio chunk");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Library code handles every input without panicking; tests may unwrap.
#![warn(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub
)]

mod names;

/// The clock: std's, except on wasm32-unknown-unknown, which has none and
/// panics on `Instant::now()`; there the host's (`performance.now()`).
mod clock {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    pub(crate) use std::time::{Instant, SystemTime, UNIX_EPOCH};
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    pub(crate) use web_time::{Instant, SystemTime, UNIX_EPOCH};
}

pub mod attributes;
pub mod baggage;
pub mod context;
pub mod envelope;
pub mod error;
pub mod handshake;
pub mod limits;
pub mod metrics;
pub mod model;
#[cfg(feature = "otel")]
pub mod otel;
pub mod received;
pub mod target;
pub mod traceparent;
pub mod tracestate;
#[cfg(feature = "tokio-tungstenite")]
pub mod ws;

pub use attributes::{KeyValue, Value};
pub use baggage::{Baggage, BaggageError, BaggageMember};
pub use context::{ExtractIssue, TraceContext};
pub use envelope::{Decoded, EnvelopeError};
pub use error::{ErrorCode, InvalidArgument};
pub use metrics::{MetricNames, StreamKind, StreamMetrics, StreamSnapshot};
pub use received::Received;
pub use target::{Scheme, Target, UrlError};
pub use traceparent::{SpanId, TraceFlags, TraceId, TraceParent, TraceParentError};
pub use tracestate::{TraceState, TraceStateError};
