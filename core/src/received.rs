//! Passing on a received context through an OpenTelemetry SDK that cannot
//! hold all of it.
//!
//! W3C Trace Context requires a received `tracestate` to be passed on, and
//! (Level 2) the random trace-id flag to be kept while the trace id is. The
//! SDKs fall short: `opentelemetry` (Rust), otel-go and opentelemetry-java
//! reject `tracestate` keys Level 2 allows (`@` anywhere, a system part over
//! 14 characters), and opentelemetry-java and `opentelemetry_sdk` (for a
//! span it does not sample) start child spans without the random flag. Each
//! binding keeps a [`Received`] beside the SDK's span context when the SDK's
//! `TraceState` left members out or the random flag is set, and asks
//! [`Received::pass_on`] what to send: the one rule, in every language.

use crate::traceparent::{TraceFlags, TraceParent};
use crate::tracestate::{MAX_MEMBERS, TraceState};

/// A received span context and what the SDK made of its tracestate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The received traceparent (its trace id and flags matter here).
    pub traceparent: TraceParent,
    /// The whole received tracestate.
    pub tracestate: TraceState,
    /// The members of it the SDK's `TraceState` accepted: what the SDK's span
    /// contexts carry while the application leaves the state alone.
    pub accepted: TraceState,
}

impl Received {
    /// What to send for `sending`, a span context the SDK made, whose
    /// `TraceState` is `sdk`. In another trace, `sending` and `sdk` as they
    /// are. In this trace: the random flag is kept when it was received; the
    /// state is the whole received one while the SDK's is unchanged, else
    /// the SDK's (updated) members followed by the received members the SDK
    /// could not hold, at most [`MAX_MEMBERS`].
    pub fn pass_on(&self, sending: TraceParent, sdk: &TraceState) -> (TraceParent, TraceState) {
        if sending.trace_id != self.traceparent.trace_id {
            return (sending, sdk.clone());
        }
        let random = self.traceparent.flags.0 & TraceFlags::RANDOM.0;
        let traceparent = TraceParent {
            flags: TraceFlags(sending.flags.0 | random),
            ..sending
        };
        if *sdk == self.accepted {
            return (traceparent, self.tracestate.clone());
        }
        let rejected = self
            .tracestate
            .iter()
            .filter(|(k, _)| self.accepted.get(k).is_none() && sdk.get(k).is_none());
        let state = TraceState::from_entries(sdk.iter().chain(rejected).take(MAX_MEMBERS))
            .unwrap_or_else(|_| sdk.clone());
        (traceparent, state)
    }
}
