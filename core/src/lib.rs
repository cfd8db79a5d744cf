//! # tracewire
//!
//! End-to-end OpenTelemetry trace context over WebSocket.
//!
//! PLACEHOLDER crate docs.

pub mod attributes;
pub mod baggage;
pub mod error;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
pub mod traceparent;
pub mod tracestate;

pub use attributes::{KeyValue, Value};
pub use baggage::{Baggage, BaggageError, BaggageMember};
pub use error::ErrorCode;
pub use metrics::{StreamKind, StreamMetrics, StreamSnapshot};
pub use traceparent::{SpanId, TraceFlags, TraceId, TraceParent, TraceParentError};
pub use tracestate::{TraceState, TraceStateError};
