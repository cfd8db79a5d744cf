//! Tracing models: span decisions per event, how to apply them, and the
//! trust policy.

use crate::context::received;
use crate::errors::{JsResult, to_js};
use crate::values::{self, set};
use js_sys::{Array, Object};
use tracewire::Target;
use tracewire::model::{
    Available, BaggagePolicy, Connection as CoreConnection, MessageType, Model, ReceiveSpanBudget,
    RemoteContext, Role, SpanDecision as CoreDecision, Trust as CoreTrust,
};
use tracewire_bridge::{BridgeError, Coded};
use wasm_bindgen::prelude::*;

fn coded<T: Coded>(name: &str) -> JsResult<T> {
    T::from_name(name).map_err(to_js)
}

/// One span to start: name, kind, parent candidates, links, attributes.
#[wasm_bindgen]
pub struct SpanDecision(CoreDecision);

#[wasm_bindgen]
impl SpanDecision {
    /// The span name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.0.name.clone()
    }

    /// `client`, `server`, `producer`, `consumer` or `internal`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.0.kind.name().to_owned()
    }

    /// Parent candidates in order of preference.
    #[wasm_bindgen(getter)]
    pub fn parent(&self) -> Array {
        values::strings(self.0.parent.iter().map(|p| p.name()))
    }

    /// Links to add.
    #[wasm_bindgen(getter)]
    pub fn links(&self) -> Array {
        values::strings(self.0.links.iter().map(|l| l.name()))
    }

    /// Attributes to set at start.
    #[wasm_bindgen(getter)]
    pub fn attributes(&self) -> Object {
        values::attributes(&self.0.attributes)
    }

    /// Applies the decision to what is available (core `model::choose`):
    /// `{parent, baggage, linkConnection, linkRemote}`.
    #[allow(clippy::too_many_arguments)]
    pub fn choose(
        &self,
        remote_has_span: bool,
        remote_has_baggage: bool,
        ambient_has_span: bool,
        ambient_in_connection_trace: bool,
        ambient_is_connection: bool,
        connection_has_span: bool,
    ) -> Object {
        let a = self.0.choose(Available {
            remote_has_span,
            remote_has_baggage,
            ambient_has_span,
            ambient_in_connection_trace,
            ambient_is_connection,
            connection_has_span,
        });
        let o = Object::new();
        set(&o, "parent", a.parent.name());
        set(&o, "baggage", a.baggage.name());
        set(&o, "linkConnection", a.link_connection);
        set(&o, "linkRemote", a.link_remote);
        o
    }
}

/// The facts about one connection every decision depends on.
#[wasm_bindgen]
pub struct Connection(CoreConnection);

#[wasm_bindgen]
impl Connection {
    /// A connection of `model` (`connection` or `message`) on `role`
    /// (`client` or `server`) with a computed URL path.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &str, role: &str, session_id: &str, url_path: &str) -> JsResult<Connection> {
        Ok(Connection(CoreConnection::new(
            coded::<Model>(model)?,
            coded::<Role>(role)?,
            session_id,
            url_path,
        )))
    }

    /// A client connection to `url`: address, port and path from the core's
    /// reading of it; throws `invalid_url`.
    #[wasm_bindgen(js_name = forUrl)]
    pub fn for_url(model: &str, role: &str, session_id: &str, url: &str) -> JsResult<Connection> {
        let target =
            Target::from_url(url).map_err(|e| to_js(BridgeError::new(e.code(), e.to_string())))?;
        Ok(Connection(CoreConnection::from_target(
            coded::<Model>(model)?,
            coded::<Role>(role)?,
            session_id,
            target,
        )))
    }

    /// A server's connection for the request it accepted: address, port and
    /// path from the core's reading of the scheme (`ws`, `wss` or none),
    /// `Host` and request target; a bad `Host` is left out rather than
    /// failing the handshake.
    #[wasm_bindgen(js_name = forRequest)]
    pub fn for_request(
        model: &str,
        session_id: &str,
        scheme: Option<String>,
        host: Option<String>,
        request_target: &str,
    ) -> JsResult<Connection> {
        let scheme = scheme
            .map(|s| s.parse::<tracewire::Scheme>().map_err(to_js))
            .transpose()?;
        let target = Target::from_request_lenient(scheme, host.as_deref(), request_target);
        Ok(Connection(CoreConnection::from_target(
            coded::<Model>(model)?,
            Role::Server,
            session_id,
            target,
        )))
    }

    /// Records the server's address and port.
    #[wasm_bindgen(js_name = setServer)]
    pub fn set_server(&mut self, address: &str, port: Option<u16>) {
        self.0 = self.0.clone().with_server(address, port);
    }

    /// Records the route template (span names then use it).
    #[wasm_bindgen(js_name = setRoute)]
    pub fn set_route(&mut self, route: &str) {
        self.0 = self.0.clone().with_route(route);
    }

    /// Sets the trust policy (a server not trusting parents records a new
    /// session id of its own).
    #[wasm_bindgen(js_name = setTrust)]
    pub fn set_trust(&mut self, trust: &Trust) {
        self.0 = self.0.clone().with_trust(trust.0.clone());
    }

    /// The session id recorded on every span.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.0.session_id.clone()
    }

    /// The URL path recorded.
    #[wasm_bindgen(getter, js_name = urlPath)]
    pub fn url_path(&self) -> String {
        self.0.url_path.clone()
    }

    /// Whether the connection span ends when the upgrade completes (the
    /// `message` model).
    #[wasm_bindgen(getter, js_name = endsAtUpgrade)]
    pub fn ends_at_upgrade(&self) -> bool {
        self.0.connection_span_ends_at_upgrade()
    }

    /// The connection span.
    pub fn open(&self) -> SpanDecision {
        SpanDecision(self.0.open())
    }

    /// The span for sending one message of `message_type` (`text` or
    /// `binary`) and payload `size`.
    pub fn send(&self, message_type: &str, size: usize) -> JsResult<SpanDecision> {
        Ok(SpanDecision(
            self.0.send(coded::<MessageType>(message_type)?, size),
        ))
    }

    /// The span for processing one received message.
    pub fn receive(&self, message_type: &str, size: usize) -> JsResult<SpanDecision> {
        Ok(SpanDecision(
            self.0.receive(coded::<MessageType>(message_type)?, size),
        ))
    }

    /// What to record at close: `{attributes, isError, span}` (`span`, a
    /// `SpanDecision`, in the `message` model).
    pub fn close(&self, code: Option<u16>, reason: &str, receive_spans_skipped: u32) -> Object {
        let d = self
            .0
            .close(code, reason)
            .with_receive_spans_skipped(u64::from(receive_spans_skipped));
        let o = Object::new();
        set(&o, "attributes", values::attributes(&d.attributes));
        set(&o, "isError", d.is_error);
        set(
            &o,
            "span",
            d.span.map_or(JsValue::NULL, |s| SpanDecision(s).into()),
        );
        o
    }
}

/// How far an endpoint trusts its peer (PROTOCOL 12.1).
#[wasm_bindgen]
pub struct Trust(CoreTrust);

#[wasm_bindgen]
impl Trust {
    /// A policy: `remote_context` `parent`, `link` or `ignore`; `baggage`
    /// `"keep_all"`, `"drop"` or an array of allowed keys;
    /// `max_receive_spans` a number or none.
    #[wasm_bindgen(constructor)]
    pub fn new(
        remote_context: &str,
        baggage: JsValue,
        max_receive_spans: Option<u32>,
    ) -> JsResult<Trust> {
        let baggage = if Array::is_array(&baggage) {
            let keys = Array::from(&baggage)
                .iter()
                .map(|k| {
                    k.as_string().ok_or_else(|| {
                        to_js(BridgeError::invalid_argument(
                            "baggage keys must be strings",
                        ))
                    })
                })
                .collect::<JsResult<Vec<_>>>()?;
            BaggagePolicy::AllowKeys(keys)
        } else {
            match baggage.as_string().as_deref() {
                Some("keep_all") => BaggagePolicy::KeepAll,
                Some("drop") => BaggagePolicy::Drop,
                _ => {
                    return Err(to_js(BridgeError::invalid_argument(
                        "the baggage policy must be \"keep_all\", \"drop\" or a list of keys",
                    )));
                }
            }
        };
        Ok(Trust(CoreTrust {
            remote_context: coded::<RemoteContext>(remote_context)?,
            baggage,
            max_receive_spans,
        }))
    }

    /// The default: the peer's context is a parent, its baggage kept.
    pub fn trusted() -> Trust {
        Trust(CoreTrust::trusted())
    }

    /// For endpoints facing clients they do not control.
    pub fn untrusted() -> Trust {
        Trust(CoreTrust::untrusted())
    }

    /// `{remoteContext, baggage, maxReceiveSpans}` (`baggage` a name or the
    /// allowed keys).
    pub fn describe(&self) -> Object {
        let o = Object::new();
        set(&o, "remoteContext", self.0.remote_context.name());
        let baggage: JsValue = match &self.0.baggage {
            BaggagePolicy::KeepAll => "keep_all".into(),
            BaggagePolicy::Drop => "drop".into(),
            BaggagePolicy::AllowKeys(keys) => {
                values::strings(keys.iter().map(String::as_str)).into()
            }
        };
        set(&o, "baggage", baggage);
        set(
            &o,
            "maxReceiveSpans",
            self.0
                .max_receive_spans
                .map_or(JsValue::NULL, JsValue::from),
        );
        o
    }

    /// Whether the policy equals `other`.
    pub fn equals(&self, other: &Trust) -> bool {
        self.0 == other.0
    }

    /// What a received context (header values) leaves after the policy
    /// (see `values::context`).
    pub fn admit(
        &self,
        traceparent: Option<String>,
        tracestate: Option<String>,
        baggage: Option<String>,
    ) -> Object {
        values::context(&self.0.admit(received(traceparent, tracestate, baggage)))
    }

    /// A connection's receive span budget under this policy.
    #[wasm_bindgen(js_name = receiveSpanBudget)]
    pub fn receive_span_budget(&self) -> SpanBudget {
        SpanBudget(self.0.receive_span_budget())
    }
}

/// Counts a connection's process spans against the policy's maximum.
#[wasm_bindgen(js_name = ReceiveSpanBudget)]
pub struct SpanBudget(ReceiveSpanBudget);

#[wasm_bindgen(js_class = ReceiveSpanBudget)]
impl SpanBudget {
    /// A budget of `limit` spans (none: no limit).
    #[wasm_bindgen(constructor)]
    pub fn new(limit: Option<u32>) -> SpanBudget {
        SpanBudget(ReceiveSpanBudget::new(limit))
    }

    /// Whether the message just received gets a span (else it is counted).
    pub fn admit(&self) -> bool {
        self.0.admit()
    }

    /// Messages that got no span.
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> u32 {
        u32::try_from(self.0.skipped()).unwrap_or(u32::MAX)
    }
}
