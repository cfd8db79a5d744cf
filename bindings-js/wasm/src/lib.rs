//! # tracewire-wasm
//!
//! The wasm-bindgen adapter of the [`tracewire`] core for JavaScript
//! (`bindings-js`). Like the pyo3, JNI and C adapters it decides nothing:
//! every rule (parsing, envelopes, negotiation, span decisions, trust,
//! limits, metrics) is the core's; this crate only turns core values into
//! JavaScript ones. The TypeScript package wraps these exports; they are not
//! its public API.
//!
//! Conventions at the boundary:
//!
//! - A context crosses as header strings (`traceparent`, `tracestate`,
//!   `baggage`), or, when it comes from an OpenTelemetry span context, as
//!   trace id, span id and flags, so the core writes the `traceparent`
//!   (sender rule: known flags only).
//! - Enum values cross by their names ([`tracewire_bridge::Coded`]).
//! - Errors are thrown as the objects the package's error factory makes
//!   ([`set_error_factory`]): `TracewireError` subclasses with the core's
//!   code, so `instanceof` and `.code` work on anything thrown from here.

mod context;
mod envelope;
mod errors;
mod handshake;
mod metrics;
mod model;
mod values;

pub use errors::set_error_factory;
