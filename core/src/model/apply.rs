//! Applying a span decision, as data: given a [`SpanDecision`]'s candidates
//! and what is at hand when the span starts, which context is the parent,
//! whether the connection span is linked, and which baggage the new span's
//! context (the one the handler runs in) carries.
//!
//! The rule, which every binding follows through [`choose`]:
//!
//! 1. **Parent**: the first candidate that is available, in the decision's
//!    order. `remote` needs a received span context (baggage alone is not a
//!    parent); `ambient` a current span; `ambient_in_connection_trace` a
//!    current span in the connection span's trace; `connection` a
//!    connection span. None available: the span starts a **new trace**.
//! 2. **Links**: the connection span, when the decision lists it, there is
//!    one, and it is not already the parent (directly, or as the ambient
//!    span); the received span context, when the decision lists it (a peer
//!    not trusted as a parent, [`super::RemoteContext::Link`]) and there is
//!    one.
//! 3. **Baggage**: the parent's context's baggage: the remote baggage for a
//!    remote parent, the caller's for an ambient one, the connection
//!    context's for the connection span. A span that starts a new trace
//!    carries the **remote** baggage if the frame or handshake brought any,
//!    else **none**; it never falls back to the caller's.
//!
//! ```
//! use tracewire::model::{Available, BaggageSource, Connection, MessageType, Model, Parent, Role};
//! let conn = Connection::new(Model::Message, Role::Server, "s-1", "/chat");
//! let receive = conn.receive(MessageType::Text, 5);
//! // A message with baggage but no traceparent, on a socket whose
//! // connection span is still known.
//! let applied = receive.choose(Available {
//!     remote_has_baggage: true,
//!     connection_has_span: true,
//!     ..Available::default()
//! });
//! assert_eq!(applied.parent, Parent::NewTrace);
//! assert_eq!(applied.baggage, BaggageSource::Remote);
//! assert!(applied.link_connection);
//! ```

use super::{LinkSource, ParentSource, SpanDecision};

/// What is at hand when a span starts, as facts a binding reads off its own
/// SDK's contexts. Every field defaults to `false` (nothing available).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Available {
    /// The context received with the handshake or message has a valid span
    /// context (a `traceparent`).
    pub remote_has_span: bool,
    /// The received context carries baggage (with or without a span context).
    pub remote_has_baggage: bool,
    /// The caller's current context holds a valid span.
    pub ambient_has_span: bool,
    /// The caller's current span has the connection span's trace id.
    pub ambient_in_connection_trace: bool,
    /// The caller's current span is the connection span itself (same trace
    /// and span id), as when a handler runs in the connection's context.
    pub ambient_is_connection: bool,
    /// There is a connection span with a valid span context (it may have
    /// ended already, as in the `message` model after the upgrade).
    pub connection_has_span: bool,
}

/// The context a span's parent comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parent {
    /// The received context's span (a remote parent).
    Remote,
    /// The caller's current span.
    Ambient,
    /// The connection span.
    Connection,
    /// No parent: the span is the root of a new trace.
    NewTrace,
}

crate::names::names!(Parent, "the parent must be remote, ambient, connection or new_trace", {
    Remote => "remote",
    Ambient => "ambient",
    Connection => "connection",
    NewTrace => "new_trace",
});

/// The baggage the new span's context carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaggageSource {
    /// The received context's baggage.
    Remote,
    /// The caller's current baggage.
    Ambient,
    /// The baggage of the context holding the connection span.
    Connection,
    /// No baggage.
    None,
}

crate::names::names!(BaggageSource, "the baggage source must be remote, ambient, connection or none", {
    Remote => "remote",
    Ambient => "ambient",
    Connection => "connection",
    None => "none",
});

/// How one span is started: the outcome of [`choose`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Applied {
    /// Where the parent comes from.
    pub parent: Parent,
    /// Whether the span links to the connection span.
    pub link_connection: bool,
    /// Whether the span links to the received span context (listed after the
    /// connection span's link when both are added).
    pub link_remote: bool,
    /// Which baggage the span's context (and so the handler) carries.
    pub baggage: BaggageSource,
}

/// Applies the rule in this module's documentation to a decision's `parent`
/// candidates and `links`.
pub fn choose(parent: &[ParentSource], links: &[LinkSource], available: Available) -> Applied {
    let a = available;
    let chosen = parent
        .iter()
        .find_map(|source| match source {
            ParentSource::Remote => a.remote_has_span.then_some(Parent::Remote),
            ParentSource::Ambient => a.ambient_has_span.then_some(Parent::Ambient),
            ParentSource::AmbientInConnectionTrace => {
                (a.ambient_has_span && a.connection_has_span && a.ambient_in_connection_trace)
                    .then_some(Parent::Ambient)
            }
            ParentSource::Connection => a.connection_has_span.then_some(Parent::Connection),
        })
        .unwrap_or(Parent::NewTrace);
    let baggage = match chosen {
        Parent::Ambient => BaggageSource::Ambient,
        Parent::Connection => BaggageSource::Connection,
        // A remote parent's context is the received one; a new trace keeps
        // what the peer sent along (W3C Baggage is independent of the trace)
        // but nothing of the caller's.
        Parent::Remote | Parent::NewTrace if a.remote_has_baggage => BaggageSource::Remote,
        Parent::Remote | Parent::NewTrace => BaggageSource::None,
    };
    let connection_is_parent = chosen == Parent::Connection
        || (chosen == Parent::Ambient && a.ambient_is_connection && a.connection_has_span);
    let link_connection =
        links.contains(&LinkSource::Connection) && a.connection_has_span && !connection_is_parent;
    let link_remote = links.contains(&LinkSource::Remote) && a.remote_has_span;
    Applied {
        parent: chosen,
        link_connection,
        link_remote,
        baggage,
    }
}

impl SpanDecision {
    /// [`choose`] for this decision's candidates and links.
    pub fn choose(&self, available: Available) -> Applied {
        choose(self.parent, self.links, available)
    }
}
