//! The handshake: the client's offer (headers for Node, query parameters for
//! a browser, subprotocols for both), the server's selection, and the
//! extraction of a request's context.

use crate::context::sending;
use crate::errors::{JsResult, to_js};
use crate::values::{self, set};
use js_sys::Object;
use tracewire::handshake::{
    self, AppProtocols, ClientHandshake as CoreClient, Envelopes, HeaderSink, ServerHandshake,
};
use tracewire::{Scheme, Target, UrlError};
use tracewire_bridge::BridgeError;
use wasm_bindgen::prelude::*;

/// Header pairs flattened as `[name, value, name, value, ...]` (one array
/// crossing instead of one per pair).
fn pairs(flat: &[String]) -> Vec<(&str, &str)> {
    flat.chunks_exact(2)
        .map(|p| (p[0].as_str(), p[1].as_str()))
        .collect()
}

/// Headers written in order, flattened.
#[derive(Default)]
struct Flat(Vec<String>);

impl HeaderSink for Flat {
    fn set(&mut self, name: &'static str, value: &str) {
        self.0.push(name.to_owned());
        self.0.push(value.to_owned());
    }
}

/// Only what a browser may put in the URL (PROTOCOL 12, item 6: proxies
/// log query strings): the `traceparent` and the session id.
struct BrowserQuery(Flat);

impl HeaderSink for BrowserQuery {
    fn set(&mut self, name: &'static str, value: &str) {
        if name == handshake::TRACEPARENT || name == handshake::SESSION_HEADER {
            self.0.set(name, value);
        }
    }
}

/// `{json, binary, appProtocol}` of a negotiation.
fn negotiated(envelopes: Envelopes, app: Option<&str>) -> Object {
    let o = Object::new();
    set(&o, "json", envelopes.json);
    set(&o, "binary", envelopes.binary);
    set(
        &o,
        "appProtocol",
        app.map_or(JsValue::NULL, JsValue::from_str),
    );
    o
}

/// What a client sends in its upgrade, and how it reads the answer.
#[wasm_bindgen(js_name = ClientHandshake)]
pub struct JsClientHandshake(CoreClient);

#[wasm_bindgen(js_class = ClientHandshake)]
impl JsClientHandshake {
    /// A client offering the JSON and/or binary envelopes, with the
    /// application's own subprotocols (validated), and `session_id` (a new
    /// random one when absent).
    #[wasm_bindgen(constructor)]
    pub fn new(
        json: bool,
        binary: bool,
        apps: Vec<String>,
        session_id: Option<String>,
    ) -> JsResult<JsClientHandshake> {
        let apps = AppProtocols::new(apps).map_err(to_js)?;
        Ok(JsClientHandshake(CoreClient {
            offered: Envelopes { json, binary },
            apps,
            session_id: session_id.unwrap_or_else(handshake::new_session_id),
        }))
    }

    /// The session id sent.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.0.session_id.clone()
    }

    /// The subprotocols to offer, most preferred first.
    pub fn subprotocols(&self) -> Vec<String> {
        self.0.subprotocols()
    }

    /// Request headers (for clients that can set them, like Node's `ws`),
    /// flattened `[name, value, ...]`.
    pub fn headers(
        &self,
        trace_id: Option<String>,
        span_id: Option<String>,
        flags: u8,
        tracestate: Option<String>,
        baggage: Option<String>,
    ) -> Vec<String> {
        let mut out = Flat::default();
        self.0.request_headers(
            &sending(trace_id, span_id, flags, tracestate, baggage),
            &mut out,
        );
        out.0
    }

    /// Query parameters for a browser, flattened `[name, value, ...]`, to be
    /// encoded with `URLSearchParams` (which the server's decoding mirrors).
    pub fn query(
        &self,
        trace_id: Option<String>,
        span_id: Option<String>,
        flags: u8,
    ) -> Vec<String> {
        let mut out = BrowserQuery(Flat::default());
        self.0
            .request_headers(&sending(trace_id, span_id, flags, None, None), &mut out);
        out.0.0
    }

    /// What the server's selected subprotocol (`WebSocket.protocol`; empty
    /// or absent for none) means: `{json, binary, appProtocol}`.
    pub fn negotiated(&self, selected: Option<String>) -> Object {
        let n = self
            .0
            .negotiated(selected.as_deref().filter(|s| !s.is_empty()));
        negotiated(n.envelopes, n.app_protocol.as_deref())
    }
}

/// A server's reading of an upgrade request: `{context, issues, json,
/// binary, appProtocol, subprotocol, sessionId}`; `headers` flattened.
#[wasm_bindgen(js_name = acceptRequest)]
pub fn accept_request(
    headers: Vec<String>,
    query: Option<String>,
    json: bool,
    binary: bool,
    apps: Vec<String>,
) -> JsResult<Object> {
    let apps = AppProtocols::new(apps).map_err(to_js)?;
    let hs = ServerHandshake::from_request(
        &pairs(&headers),
        query.as_deref(),
        Envelopes { json, binary },
        &apps,
    );
    let o = negotiated(hs.envelopes, hs.app_protocol.as_deref());
    set(&o, "context", values::context(&hs.context));
    set(&o, "issues", issue_names(&hs.issues));
    set(
        &o,
        "subprotocol",
        hs.subprotocol
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str),
    );
    set(&o, "sessionId", hs.session_id);
    Ok(o)
}

fn issue_names(issues: &[tracewire::ExtractIssue]) -> js_sys::Array {
    values::strings(issues.iter().map(|i| i.code().name()))
}

/// A request's context from its headers (flattened) and query string:
/// `{context, issues}`.
#[wasm_bindgen(js_name = extractRequest)]
pub fn extract_request(headers: Vec<String>, query: Option<String>) -> Object {
    let (ctx, issues) = handshake::extract(&pairs(&headers), query.as_deref());
    let o = Object::new();
    set(&o, "context", values::context(&ctx));
    set(&o, "issues", issue_names(&issues));
    o
}

/// The `traceparent` / `tracestate` / `baggage` headers for a context,
/// flattened, each only when there is something to write.
#[wasm_bindgen(js_name = injectHeaders)]
pub fn inject_headers(
    trace_id: Option<String>,
    span_id: Option<String>,
    flags: u8,
    tracestate: Option<String>,
    baggage: Option<String>,
) -> Vec<String> {
    let mut out = Flat::default();
    handshake::inject(
        &sending(trace_id, span_id, flags, tracestate, baggage),
        &mut out,
    );
    out.0
}

/// A new random session id (32 lowercase hex characters).
#[wasm_bindgen(js_name = newSessionId)]
pub fn new_session_id() -> String {
    handshake::new_session_id()
}

pub(crate) fn target_object(t: &Target) -> Object {
    let o = Object::new();
    set(
        &o,
        "address",
        t.address
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str),
    );
    set(&o, "port", t.port.map_or(JsValue::NULL, JsValue::from));
    set(&o, "path", t.path.as_str());
    o
}

fn scheme(s: Option<String>) -> JsResult<Option<Scheme>> {
    s.map(|s| s.parse::<Scheme>().map_err(to_js)).transpose()
}

/// `{address, port, path}` of a WebSocket URL (`server.address`,
/// `server.port`, `url.path`); throws `invalid_url`.
#[wasm_bindgen(js_name = targetFromUrl)]
pub fn target_from_url(url: &str) -> JsResult<Object> {
    Target::from_url(url)
        .map(|t| target_object(&t))
        .map_err(url_error)
}

/// The target of a request a server received; throws `invalid_url`.
#[wasm_bindgen(js_name = targetFromRequest)]
pub fn target_from_request(
    scheme_name: Option<String>,
    host: Option<String>,
    request_target: &str,
) -> JsResult<Object> {
    Target::from_request(scheme(scheme_name)?, host.as_deref(), request_target)
        .map(|t| target_object(&t))
        .map_err(url_error)
}

/// Like [`target_from_request`], without failing on a bad `Host`.
#[wasm_bindgen(js_name = targetFromRequestLenient)]
pub fn target_from_request_lenient(
    scheme_name: Option<String>,
    host: Option<String>,
    request_target: &str,
) -> JsResult<Object> {
    let t = Target::from_request_lenient(scheme(scheme_name)?, host.as_deref(), request_target);
    Ok(target_object(&t))
}

fn url_error(e: UrlError) -> JsValue {
    to_js(BridgeError::new(e.code(), e.to_string()))
}
