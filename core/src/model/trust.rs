//! How far a connection trusts its peer (PROTOCOL.md, Security
//! Considerations): what a received context may do to this side's spans,
//! which of its baggage reaches the handler, and how many spans the peer's
//! messages may start.
//!
//! A WebSocket server on the public edge takes contexts from anyone: a
//! trusted context becomes the parent of the server's spans (its sampled flag
//! decides sampling under `ParentBased`, its trace id places the spans), its
//! baggage reaches every handler and every call the handler makes, and every
//! frame starts a span. [`Trust::untrusted`] turns all of that off: the
//! remote context becomes a link from this side's own span (a new trace whose
//! sampling is the local sampler's, or, for a message in the `message` model,
//! the application's current span when there is one), its baggage is dropped,
//! the peer's session id is replaced, and after [`Trust::max_receive_spans`]
//! received messages the rest get no span.
//!
//! ```
//! use tracewire::model::{Connection, LinkSource, Model, ParentSource, Role, Trust};
//! let conn = Connection::new(Model::Connection, Role::Server, "s-1", "/voice")
//!     .with_trust(Trust::untrusted());
//! let open = conn.open();
//! assert!(open.parent.is_empty()); // a new trace...
//! assert_eq!(open.links, &[LinkSource::Remote]); // ...linked to the peer's context
//! assert_ne!(conn.session_id, "s-1"); // the peer's claim is not used
//! ```

use crate::context::TraceContext;
use crate::{Baggage, TraceState};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// What a received context (from the handshake or a message) does to the
/// spans this side starts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RemoteContext {
    /// Trusted: the received span context is the parent (its trace id and
    /// sampled flag are honoured), as W3C Trace Context intends.
    #[default]
    Parent,
    /// Untrusted: the span links to the received span context and starts a
    /// new trace (sampled by the local sampler alone), or, for a message in
    /// the `message` model, is a child of the application's current span.
    Link,
    /// Untrusted and unrecorded: the received span context is dropped.
    Ignore,
}

crate::names::names!(RemoteContext, "the remote context policy must be \"parent\", \"link\" or \"ignore\"", {
    Parent => "parent",
    Link => "link",
    Ignore => "ignore",
});

/// Which members of a received baggage reach the handler (and so every call
/// it makes downstream).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum BaggagePolicy {
    /// Every member, as received.
    #[default]
    KeepAll,
    /// Only members whose key is listed (exact, case-sensitive match, as
    /// W3C baggage keys are).
    AllowKeys(Vec<String>),
    /// None.
    Drop,
}

impl BaggagePolicy {
    /// `baggage` with only the members this policy lets through.
    pub fn filter(&self, baggage: Baggage) -> Baggage {
        match self {
            BaggagePolicy::KeepAll => baggage,
            BaggagePolicy::Drop => Baggage::new(),
            BaggagePolicy::AllowKeys(keys) => {
                let mut kept = Baggage::new();
                for member in baggage.iter().filter(|m| keys.contains(&m.key)) {
                    // A member of a valid baggage stays valid on its own.
                    let _ = kept.insert_member(member.clone());
                }
                kept
            }
        }
    }
}

/// A connection's trust policy: one per endpoint, set on its configuration.
/// The default, [`Trust::trusted`], is the behaviour of a tracewire peer
/// before policies existed; an endpoint facing the internet sets
/// [`Trust::untrusted`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Trust {
    /// What a received context does to this side's spans.
    pub remote_context: RemoteContext,
    /// Which received baggage members reach the handler.
    pub baggage: BaggagePolicy,
    /// How many received messages get a process span; later ones get none
    /// (counted, and the count recorded at close, see [`ReceiveSpanBudget`]).
    /// `None`: no limit.
    pub max_receive_spans: Option<u32>,
}

/// The receive span budget of [`Trust::untrusted`]: half of the
/// OpenTelemetry SDKs' default export queue (2048 spans), so one peer cannot
/// fill it alone.
pub const UNTRUSTED_MAX_RECEIVE_SPANS: u32 = 1024;

impl Trust {
    /// Trust the peer: its context is the parent, its baggage is kept, its
    /// session id is used, every message gets a span.
    pub fn trusted() -> Self {
        Trust::default()
    }

    /// Trust nothing the peer sends: link to its context from a new trace,
    /// drop its baggage, use a session id of this side's own, and start at
    /// most [`UNTRUSTED_MAX_RECEIVE_SPANS`] process spans.
    pub fn untrusted() -> Self {
        Trust {
            remote_context: RemoteContext::Link,
            baggage: BaggagePolicy::Drop,
            max_receive_spans: Some(UNTRUSTED_MAX_RECEIVE_SPANS),
        }
    }

    /// Whether the peer's context is trusted as a parent; an untrusted peer's
    /// session id is not used either.
    pub fn trusts_parent(&self) -> bool {
        self.remote_context == RemoteContext::Parent
    }

    /// A received context as this policy admits it: the baggage filtered;
    /// the span context dropped when it is to be ignored. Bindings pass
    /// every received context (handshake and message) through this before
    /// reading what is available.
    pub fn admit(&self, received: TraceContext) -> TraceContext {
        let baggage = self.baggage.filter(received.baggage);
        match self.remote_context {
            RemoteContext::Ignore => TraceContext {
                traceparent: None,
                tracestate: TraceState::new(),
                baggage,
                remote: received.remote,
            },
            RemoteContext::Parent | RemoteContext::Link => TraceContext {
                baggage,
                ..received
            },
        }
    }

    /// A budget for one connection's process spans.
    pub fn receive_span_budget(&self) -> ReceiveSpanBudget {
        ReceiveSpanBudget::new(self.max_receive_spans)
    }
}

/// Counts one connection's process spans against [`Trust::max_receive_spans`].
/// Thread-safe: a connection's receiver may run on any thread.
#[derive(Debug, Default)]
pub struct ReceiveSpanBudget {
    limit: Option<u32>,
    spanned: AtomicU32,
    skipped: AtomicU64,
}

impl ReceiveSpanBudget {
    /// A budget of `limit` spans (`None`: no limit).
    pub fn new(limit: Option<u32>) -> Self {
        ReceiveSpanBudget {
            limit,
            ..Default::default()
        }
    }

    /// Whether the message just received gets a process span; when not, it
    /// is counted as skipped.
    pub fn admit(&self) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let taken = self
            .spanned
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    /// How many received messages got no span.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_keeps_listed_keys_only() {
        let baggage = Baggage::parse("tenant=a,user.id=u1;p=1").unwrap();
        let kept = BaggagePolicy::AllowKeys(vec!["user.id".into()]).filter(baggage.clone());
        assert_eq!(kept.to_header(), "user.id=u1;p=1");
        assert!(BaggagePolicy::Drop.filter(baggage.clone()).is_empty());
        assert_eq!(BaggagePolicy::KeepAll.filter(baggage.clone()), baggage);
    }

    #[test]
    fn budget_counts_what_it_skips() {
        let budget = ReceiveSpanBudget::new(Some(2));
        let admitted: Vec<bool> = (0..5).map(|_| budget.admit()).collect();
        assert_eq!(admitted, [true, true, false, false, false]);
        assert_eq!(budget.skipped(), 3);
        let unlimited = ReceiveSpanBudget::new(None);
        assert!((0..10_000).all(|_| unlimited.admit()));
        assert_eq!(unlimited.skipped(), 0);
    }
}
