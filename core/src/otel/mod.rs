//! OpenTelemetry integration.

#[cfg(feature = "otlp")]
pub mod export;
