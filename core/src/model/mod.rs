//! The tracing models, as data: for each event on a connection, which span
//! to start, of what kind, under which parent, with which links and
//! attributes. Bindings apply these decisions with their own language's
//! OpenTelemetry SDK and never choose a name or an attribute key themselves.
//!
//! | event | `connection` model | `message` model |
//! |---|---|---|
//! | open (client) | CLIENT `connect {path}`, parent: ambient; lives until close | same, but ends once the upgrade completes |
//! | open (server) | SERVER `accept {path}`, parent: handshake context; lives until close | same, but ends once the upgrade completes |
//! | send | PRODUCER `send {path}`, parent: ambient if in the connection's trace, else the connection span | PRODUCER, parent: ambient (none: new trace), link: connection span |
//! | receive | CONSUMER `process {path}`, parent: the message's context, else the connection span; link: connection span | CONSUMER, parent: the message's context (none: new trace), link: connection span |
//! | close | attributes on the connection span, which ends | INTERNAL `close {path}`, parent: the connection span (ended at the upgrade) |
//!
//! Every span carries `websocket.session.id`, so the traces of one session
//! can be found together in the `message` model.
//!
//! A decision lists parent candidates; [`choose`] turns them, with what is
//! at hand when the span starts ([`Available`]), into the parent, the links
//! and the baggage ([`Applied`]), so no binding writes that rule again.
//!
//! ```
//! use tracewire::model::{Connection, Model, Role, SpanKind, ParentSource, MessageType};
//! let conn = Connection::new(Model::Message, Role::Client, "s-1", "/chat");
//! let send = conn.send(MessageType::Text, 42);
//! assert_eq!(send.name, "send /chat");
//! assert_eq!(send.kind, SpanKind::Producer);
//! assert_eq!(send.parent, &[ParentSource::Ambient]);
//! ```

mod apply;
mod trust;

pub use apply::{Applied, Available, BaggageSource, Parent, choose};
pub use trust::{
    BaggagePolicy, ReceiveSpanBudget, RemoteContext, Trust, UNTRUSTED_MAX_RECEIVE_SPANS,
};

use crate::attributes::KeyValue;
use crate::target::Target;

/// Attribute keys written by the models.
pub mod keys {
    /// The session id shared by both peers of a connection.
    pub const SESSION_ID: &str = "websocket.session.id";
    /// `text` or `binary`.
    pub const MESSAGE_TYPE: &str = "websocket.message.type";
    /// The close code from the close frame.
    pub const CLOSE_CODE: &str = "websocket.close.code";
    /// The close reason from the close frame (only when not empty).
    pub const CLOSE_REASON: &str = "websocket.close.reason";
    /// Which tracing model produced the span.
    pub const MODEL: &str = "tracewire.model";
    /// Always `websocket`.
    pub const NETWORK_PROTOCOL_NAME: &str = "network.protocol.name";
    /// The host of the WebSocket URL.
    pub const SERVER_ADDRESS: &str = "server.address";
    /// The port of the WebSocket URL.
    pub const SERVER_PORT: &str = "server.port";
    /// The path of the WebSocket URL.
    pub const URL_PATH: &str = "url.path";
    /// Always `websocket`.
    pub const MESSAGING_SYSTEM: &str = "messaging.system";
    /// `send` or `process`.
    pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
    /// `send` or `process`.
    pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
    /// The URL path, which names the channel.
    pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
    /// The route template the application matched (`/chat/{room}`), when it
    /// gave one: the connection span's low-cardinality route.
    pub const HTTP_ROUTE: &str = "http.route";
    /// The route template, as the messaging spans' low-cardinality destination.
    pub const MESSAGING_DESTINATION_TEMPLATE: &str = "messaging.destination.template";
    /// The size of the application payload in bytes (without the envelope).
    pub const MESSAGING_BODY_SIZE: &str = "messaging.message.body.size";
    /// The OpenTelemetry event name for a recorded error: a received
    /// envelope that is malformed ([`crate::envelope::codec::exception_event`]).
    pub const EXCEPTION_EVENT: &str = "exception";
    /// On the `exception` event: the stable name of the core error code
    /// (`invalid_envelope`, ...).
    pub const EXCEPTION_TYPE: &str = "exception.type";
    /// On the `exception` event: the error's message.
    pub const EXCEPTION_MESSAGE: &str = "exception.message";
    /// At close, when the receive span budget ran out: how many received
    /// messages got no span ([`super::Trust::max_receive_spans`]).
    pub const RECEIVE_SPANS_SKIPPED: &str = "tracewire.receive_spans.skipped";
}

/// A span event to add: its name and attributes, both from [`keys`].
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event name.
    pub name: &'static str,
    /// The event's attributes.
    pub attributes: Vec<KeyValue>,
}

/// How spans on a connection relate to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Model {
    /// One trace per connection: the connection span is the ancestor of every
    /// message span. Suits short sessions.
    #[default]
    Connection,
    /// One trace per request or stream, linked to the connection span and
    /// tagged with the session id. Suits long-lived sockets.
    Message,
}

crate::names::names!(Model, "the tracing model must be \"connection\" or \"message\"", {
    Connection => "connection",
    Message => "message",
});

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sent the upgrade request.
    Client,
    /// The side that accepted it.
    Server,
}

crate::names::names!(Role, "the role must be \"client\" or \"server\"", {
    Client => "client",
    Server => "server",
});

/// The span kinds of the OpenTelemetry API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanKind {
    /// The client side of a connection.
    Client,
    /// The server side of a connection.
    Server,
    /// Sending a message.
    Producer,
    /// Processing a received message.
    Consumer,
    /// Anything else.
    Internal,
}

crate::names::names!(SpanKind, "the span kind must be client, server, producer, consumer or internal", {
    Client => "client",
    Server => "server",
    Producer => "producer",
    Consumer => "consumer",
    Internal => "internal",
});

/// The type of a data frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A UTF-8 text frame.
    Text,
    /// A binary frame.
    Binary,
}

crate::names::names!(MessageType, "the message type must be \"text\" or \"binary\"", {
    Text => "text",
    Binary => "binary",
});

/// Where a span's parent comes from. A decision lists candidates in order;
/// the first one available is the parent, and if none is, the span starts a
/// new trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParentSource {
    /// The context received with the handshake or the message (if any).
    Remote,
    /// The caller's current span (if any).
    Ambient,
    /// The caller's current span, if it belongs to the connection span's trace.
    AmbientInConnectionTrace,
    /// The connection span (while it is open).
    Connection,
}

crate::names::names!(ParentSource, "the parent source must be remote, ambient, ambient_in_connection_trace or connection", {
    Remote => "remote",
    Ambient => "ambient",
    AmbientInConnectionTrace => "ambient_in_connection_trace",
    Connection => "connection",
});

/// A span to link to, added when available and not already the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkSource {
    /// The connection span.
    Connection,
    /// The span context received with the handshake or the message, when the
    /// peer is not trusted as a parent ([`RemoteContext::Link`]).
    Remote,
}

crate::names::names!(LinkSource, "the link source must be \"connection\" or \"remote\"", {
    Connection => "connection",
    Remote => "remote",
});

/// Everything a binding needs to start one span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanDecision {
    /// The span name.
    pub name: String,
    /// The span kind.
    pub kind: SpanKind,
    /// Parent candidates, in order of preference.
    pub parent: &'static [ParentSource],
    /// Links to add.
    pub links: &'static [LinkSource],
    /// Attributes to set at start.
    pub attributes: Vec<KeyValue>,
}

/// What to record when a connection closes.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseDecision {
    /// Close code and reason.
    pub attributes: Vec<KeyValue>,
    /// Whether the close is abnormal, so the span's status is an error.
    pub is_error: bool,
    /// `None`: set the attributes on the connection span and end it.
    /// `Some`: start and end this span with the attributes (the connection
    /// span ended at the upgrade).
    pub span: Option<SpanDecision>,
}

impl CloseDecision {
    /// Records, when `skipped` is not zero, how many received messages got
    /// no span because the receive span budget ran out
    /// ([`ReceiveSpanBudget::skipped`]), on the connection span or the close
    /// span, whichever the decision records on.
    pub fn with_receive_spans_skipped(mut self, skipped: u64) -> Self {
        if skipped > 0 {
            let count = KeyValue::new(
                keys::RECEIVE_SPANS_SKIPPED,
                i64::try_from(skipped).unwrap_or(i64::MAX),
            );
            if let Some(span) = &mut self.span {
                span.attributes.push(count.clone());
            }
            self.attributes.push(count);
        }
        self
    }
}

/// The facts about one connection that every decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The tracing model.
    pub model: Model,
    /// This end of the connection.
    pub role: Role,
    /// The session id both peers share.
    pub session_id: String,
    /// The path of the WebSocket URL (`/` when empty).
    pub url_path: String,
    /// The host of the WebSocket URL, if known.
    pub server_address: Option<String>,
    /// The port of the WebSocket URL, if known.
    pub server_port: Option<u16>,
    /// The route template the application matched (`/chat/{room}`), if it
    /// gave one: span names use it instead of the raw path, whose
    /// cardinality is unbounded (a path per room, user or id).
    pub route: Option<String>,
    /// How far the peer is trusted ([`Trust::trusted`] unless set with
    /// [`with_trust`](Self::with_trust)).
    pub trust: Trust,
}

impl Connection {
    /// A connection with no server address known, for a path already
    /// computed (prefer [`from_target`](Self::from_target), which computes it).
    pub fn new(model: Model, role: Role, session_id: &str, url_path: &str) -> Self {
        Connection {
            model,
            role,
            session_id: session_id.to_owned(),
            url_path: crate::target::path_or_root(url_path).to_owned(),
            server_address: None,
            server_port: None,
            route: None,
            trust: Trust::trusted(),
        }
    }

    /// A connection whose server address, port and path are `target`'s, as
    /// [`Target::from_url`] (client) or [`Target::from_request`] (server)
    /// read them: the one way every language computes them.
    pub fn from_target(model: Model, role: Role, session_id: &str, target: Target) -> Self {
        Connection {
            model,
            role,
            session_id: session_id.to_owned(),
            url_path: target.path,
            server_address: target.address,
            server_port: target.port,
            route: None,
            trust: Trust::trusted(),
        }
    }

    /// Sets how far the peer is trusted. A server that does not trust its
    /// client as a parent does not take its session id either: it records
    /// an id of its own, so a client cannot tag its spans with another
    /// session's id and have them found among that session's traces.
    pub fn with_trust(mut self, trust: Trust) -> Self {
        if self.role == Role::Server && !trust.trusts_parent() {
            self.session_id = crate::handshake::new_session_id();
        }
        self.trust = trust;
        self
    }

    /// Sets the server address and port.
    pub fn with_server(mut self, address: &str, port: Option<u16>) -> Self {
        self.server_address = Some(address.to_owned());
        self.server_port = port;
        self
    }

    /// Sets the route template the application matched for this URL (e.g.
    /// `/chat/{room}` for `/chat/42`): span names use it, and it is recorded
    /// as `http.route` and `messaging.destination.template`; `url.path` and
    /// `messaging.destination.name` stay the raw path. An empty route is none.
    ///
    /// ```
    /// use tracewire::model::{Connection, MessageType, Model, Role};
    /// let conn = Connection::new(Model::Message, Role::Server, "s-1", "/chat/42")
    ///     .with_route("/chat/{room}");
    /// assert_eq!(conn.receive(MessageType::Text, 2).name, "process /chat/{room}");
    /// ```
    pub fn with_route(mut self, route: &str) -> Self {
        self.route = (!route.is_empty()).then(|| route.to_owned());
        self
    }

    /// What span names say after the verb: the route template, else the path.
    fn name_target(&self) -> &str {
        self.route.as_deref().unwrap_or(&self.url_path)
    }

    /// Whether the connection span ends when the upgrade completes
    /// (`message` model) rather than at close.
    pub fn connection_span_ends_at_upgrade(&self) -> bool {
        self.model == Model::Message
    }

    fn common(&self) -> Vec<KeyValue> {
        let mut a = vec![
            KeyValue::new(keys::SESSION_ID, self.session_id.clone()),
            KeyValue::new(keys::NETWORK_PROTOCOL_NAME, "websocket"),
            KeyValue::new(keys::URL_PATH, self.url_path.clone()),
            KeyValue::new(keys::MODEL, self.model.as_str()),
        ];
        if let Some(addr) = &self.server_address {
            a.push(KeyValue::new(keys::SERVER_ADDRESS, addr.clone()));
        }
        if let Some(port) = self.server_port {
            a.push(KeyValue::new(keys::SERVER_PORT, i64::from(port)));
        }
        a
    }

    /// The connection span's attributes: the common ones and the route.
    fn connection_attributes(&self) -> Vec<KeyValue> {
        let mut a = self.common();
        if let Some(route) = &self.route {
            a.push(KeyValue::new(keys::HTTP_ROUTE, route.clone()));
        }
        a
    }

    /// The connection span, started when the upgrade request is sent
    /// (client) or received (server).
    pub fn open(&self) -> SpanDecision {
        let (verb, kind, parent, links): (_, _, &'static [ParentSource], &'static [LinkSource]) =
            match (self.role, self.trust.remote_context) {
                (Role::Client, _) => ("connect", SpanKind::Client, &[ParentSource::Ambient], &[]),
                (Role::Server, RemoteContext::Parent) => {
                    ("accept", SpanKind::Server, &[ParentSource::Remote], &[])
                }
                (Role::Server, RemoteContext::Link) => {
                    ("accept", SpanKind::Server, &[], &[LinkSource::Remote])
                }
                (Role::Server, RemoteContext::Ignore) => ("accept", SpanKind::Server, &[], &[]),
            };
        SpanDecision {
            name: format!("{verb} {}", self.name_target()),
            kind,
            parent,
            links,
            attributes: self.connection_attributes(),
        }
    }

    fn message(
        &self,
        operation: &'static str,
        message_type: MessageType,
        size: usize,
    ) -> Vec<KeyValue> {
        let mut a = self.common();
        a.extend([
            KeyValue::new(keys::MESSAGING_SYSTEM, "websocket"),
            KeyValue::new(keys::MESSAGING_OPERATION_TYPE, operation),
            KeyValue::new(keys::MESSAGING_OPERATION_NAME, operation),
            KeyValue::new(keys::MESSAGING_DESTINATION_NAME, self.url_path.clone()),
            KeyValue::new(keys::MESSAGING_BODY_SIZE, size as u64),
            KeyValue::new(keys::MESSAGE_TYPE, message_type.as_str()),
        ]);
        if let Some(route) = &self.route {
            a.push(KeyValue::new(
                keys::MESSAGING_DESTINATION_TEMPLATE,
                route.clone(),
            ));
        }
        a
    }

    /// The span for sending one data message of `size` payload bytes; its
    /// context is what goes into the message's envelope.
    pub fn send(&self, message_type: MessageType, size: usize) -> SpanDecision {
        let (parent, links): (&'static [ParentSource], &'static [LinkSource]) = match self.model {
            Model::Connection => (
                &[
                    ParentSource::AmbientInConnectionTrace,
                    ParentSource::Connection,
                ],
                &[],
            ),
            Model::Message => (&[ParentSource::Ambient], &[LinkSource::Connection]),
        };
        SpanDecision {
            name: format!("send {}", self.name_target()),
            kind: SpanKind::Producer,
            parent,
            links,
            attributes: self.message("send", message_type, size),
        }
    }

    /// The span for processing one received data message of `size` payload
    /// bytes (after the envelope is removed).
    pub fn receive(&self, message_type: MessageType, size: usize) -> SpanDecision {
        use RemoteContext as R;
        let (parent, links): (&'static [ParentSource], &'static [LinkSource]) =
            match (self.model, self.trust.remote_context) {
                (Model::Connection, R::Parent) => (
                    &[ParentSource::Remote, ParentSource::Connection],
                    &[LinkSource::Connection],
                ),
                (Model::Connection, R::Link) => (
                    &[ParentSource::Connection],
                    &[LinkSource::Connection, LinkSource::Remote],
                ),
                (Model::Connection, R::Ignore) => {
                    (&[ParentSource::Connection], &[LinkSource::Connection])
                }
                (Model::Message, R::Parent) => (&[ParentSource::Remote], &[LinkSource::Connection]),
                // An untrusted peer's message belongs to what the application
                // is doing when it reads it (a turn, a request it serves):
                // otherwise each of its messages would be a trace of one span.
                (Model::Message, R::Link) => (
                    &[ParentSource::Ambient],
                    &[LinkSource::Connection, LinkSource::Remote],
                ),
                (Model::Message, R::Ignore) => {
                    (&[ParentSource::Ambient], &[LinkSource::Connection])
                }
            };
        SpanDecision {
            name: format!("process {}", self.name_target()),
            kind: SpanKind::Consumer,
            parent,
            links,
            attributes: self.message("process", message_type, size),
        }
    }

    /// What to record when the connection closes. `code` is `None` when the
    /// connection ended without a close frame (recorded as 1006, as RFC 6455
    /// section 7.1.5 says).
    pub fn close(&self, code: Option<u16>, reason: &str) -> CloseDecision {
        let code = code.unwrap_or(1006);
        let mut attributes = vec![KeyValue::new(keys::CLOSE_CODE, i64::from(code))];
        if !reason.is_empty() {
            attributes.push(KeyValue::new(keys::CLOSE_REASON, reason.to_owned()));
        }
        let span = (self.model == Model::Message).then(|| {
            let mut a = self.common();
            a.extend(attributes.iter().cloned());
            // The close belongs to its connection's trace, whatever the
            // caller is doing when the connection ends (under the ambient
            // span, every close became a one-span trace of its own).
            SpanDecision {
                name: format!("close {}", self.name_target()),
                kind: SpanKind::Internal,
                parent: &[ParentSource::Connection],
                links: &[],
                attributes: a,
            }
        });
        CloseDecision {
            attributes,
            // Normal closure, going away, and "no status" are expected ends.
            is_error: !matches!(code, 1000 | 1001 | 1005),
            span,
        }
    }
}
