//! # tracewire
//!
//! End-to-end OpenTelemetry trace context over WebSocket.
//!
//! PLACEHOLDER crate docs.

// Library code handles every input without panicking; tests may unwrap.
#![warn(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub
)]

pub mod attributes;
pub mod baggage;
pub mod context;
pub mod envelope;
pub mod error;
pub mod handshake;
pub mod metrics;
pub mod model;
#[cfg(feature = "otel")]
pub mod otel;
pub mod traceparent;
pub mod tracestate;
#[cfg(feature = "tokio-tungstenite")]
pub mod ws;

pub use attributes::{KeyValue, Value};
pub use baggage::{Baggage, BaggageError, BaggageMember};
pub use context::{ExtractIssue, TraceContext};
pub use envelope::{Decoded, EnvelopeError};
pub use error::{ErrorCode, InvalidArgument};
pub use metrics::{StreamKind, StreamMetrics, StreamSnapshot};
pub use traceparent::{SpanId, TraceFlags, TraceId, TraceParent, TraceParentError};
pub use tracestate::{TraceState, TraceStateError};
