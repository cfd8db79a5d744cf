//! The propagated context: what one hop hands the next. Its serialised forms
//! live with their formats ([`crate::handshake`], [`crate::envelope`]; the
//! queue carrier, [`TraceContext::to_carrier`], in [`crate::envelope::binary`]).

use crate::baggage::Baggage;
use crate::traceparent::{SpanId, TraceFlags, TraceId, TraceParent};
use crate::tracestate::TraceState;

/// Everything propagated across a hop: the span context (`traceparent`,
/// `tracestate`), the baggage, and whether it came from another process.
///
/// `traceparent` is `None` when no valid span context was received; baggage
/// may still be present, since W3C Baggage is independent of Trace Context.
/// A `tracestate` is only meaningful with a `traceparent`: constructors and
/// decoders keep it empty otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace id, span id and flags of the sending span.
    pub traceparent: Option<TraceParent>,
    /// Vendor-specific trace state (empty without a `traceparent`).
    pub tracestate: TraceState,
    /// Application-defined key/value pairs.
    pub baggage: Baggage,
    /// Whether the context was received from another process (extracted).
    pub remote: bool,
}

impl TraceContext {
    /// A local context for a span, with no trace state and no baggage.
    pub fn new(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> Self {
        TraceContext {
            traceparent: Some(TraceParent {
                trace_id,
                span_id,
                flags,
            }),
            ..Default::default()
        }
    }

    /// The trace id, if there is a span context.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.traceparent.map(|tp| tp.trace_id)
    }

    /// The span id, if there is a span context.
    pub fn span_id(&self) -> Option<SpanId> {
        self.traceparent.map(|tp| tp.span_id)
    }

    /// The trace flags (zero without a span context).
    pub fn flags(&self) -> TraceFlags {
        self.traceparent.map(|tp| tp.flags).unwrap_or_default()
    }

    /// Whether there is nothing to propagate: no span context and no baggage.
    pub fn is_empty(&self) -> bool {
        self.traceparent.is_none() && self.baggage.is_empty()
    }

    /// Builds a context from the three header values, as a receiver would:
    /// an invalid `traceparent` drops the span context and its `tracestate`;
    /// an invalid `tracestate` or `baggage` is dropped on its own.
    /// Each argument holds every line of that header (possibly none).
    pub fn from_header_values<S: AsRef<str>>(
        traceparent: &[S],
        tracestate: &[S],
        baggage: &[S],
    ) -> (TraceContext, Vec<ExtractIssue>) {
        let mut issues = Vec::new();
        let traceparent = match traceparent {
            [] => None,
            [one] => TraceParent::parse(one.as_ref())
                .map_err(|e| issues.push(ExtractIssue::TraceParent(e)))
                .ok(),
            _ => {
                issues.push(ExtractIssue::MultipleTraceParents);
                None
            }
        };
        let tracestate = if traceparent.is_some() && !tracestate.is_empty() {
            TraceState::parse_lines(tracestate.iter().map(AsRef::as_ref))
                .map_err(|e| issues.push(ExtractIssue::TraceState(e)))
                .unwrap_or_default()
        } else {
            TraceState::new()
        };
        let baggage = if baggage.is_empty() {
            Baggage::new()
        } else {
            Baggage::parse_lines(baggage.iter().map(AsRef::as_ref))
                .map_err(|e| issues.push(ExtractIssue::Baggage(e)))
                .unwrap_or_default()
        };
        let ctx = TraceContext {
            traceparent,
            tracestate,
            baggage,
            remote: true,
        };
        (ctx, issues)
    }
}

/// Something a receiver dropped while extracting a context. Extraction never
/// fails as a whole (W3C: a receiver restarts the trace); these say what was
/// ignored and why, for logs and debugging.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractIssue {
    /// The `traceparent` was invalid; a new trace starts.
    #[error("ignored traceparent: {0}")]
    TraceParent(#[from] crate::TraceParentError),
    /// More than one `traceparent` was present, which W3C treats as invalid.
    #[error("ignored traceparent: more than one value was present")]
    MultipleTraceParents,
    /// The `tracestate` was invalid and was dropped.
    #[error("ignored tracestate: {0}")]
    TraceState(#[from] crate::TraceStateError),
    /// The `baggage` was invalid and was dropped.
    #[error("ignored baggage: {0}")]
    Baggage(#[from] crate::BaggageError),
}

impl ExtractIssue {
    /// The stable error code of the underlying problem.
    pub const fn code(&self) -> crate::ErrorCode {
        match self {
            ExtractIssue::TraceParent(_) | ExtractIssue::MultipleTraceParents => {
                crate::ErrorCode::InvalidTraceParent
            }
            ExtractIssue::TraceState(_) => crate::ErrorCode::InvalidTraceState,
            ExtractIssue::Baggage(_) => crate::ErrorCode::InvalidBaggage,
        }
    }
}
