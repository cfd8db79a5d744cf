//! W3C values (traceparent, tracestate, baggage), the propagator's fast
//! paths, passing a received context on, and the queue carrier.

use crate::errors::{JsResult, to_js};
use crate::values::{self, set};
use js_sys::{Array, Object};
use std::cell::RefCell;
use std::rc::Rc;
use tracewire::{
    Baggage, BaggageMember, Received, SpanId, TraceContext, TraceFlags, TraceId, TraceParent,
    TraceState,
};
use tracewire_bridge::cache::Recent;
use wasm_bindgen::prelude::*;

/// A `tracestate` as the core reads it, and its header as the core writes it.
type State = Rc<(TraceState, String)>;

thread_local! {
    // The adapters' cache policy (docs/ARCHITECTURE.md, "Caches"): a state
    // repeats across the messages and requests of a trace, its parse does not
    // need to.
    static STATES: RefCell<Recent<Option<State>>> = const { RefCell::new(Recent::new()) };
}

/// `tracestate` header lines as the core reads them (`None`: invalid).
fn tracestate_of<S: AsRef<str>>(lines: &[S]) -> Option<State> {
    let convert = || {
        TraceState::parse_lines(lines.iter().map(AsRef::as_ref))
            .ok()
            .map(|ts| {
                let header = ts.to_header();
                Rc::new((ts, header))
            })
    };
    match lines {
        [one] => STATES.with(|c| {
            c.borrow_mut()
                .get_or_convert(one.as_ref().as_bytes(), convert)
        }),
        _ => convert(),
    }
}

/// The context an application sends, from an OpenTelemetry span context
/// (`trace_id`, `span_id`, `flags`; invalid or absent ids: no span context)
/// and the `tracestate` and `baggage` headers (invalid ones are dropped, as
/// a receiver would).
pub(crate) fn sending(
    trace_id: Option<String>,
    span_id: Option<String>,
    flags: u8,
    tracestate: Option<String>,
    baggage: Option<String>,
) -> TraceContext {
    let traceparent = traceparent_of(trace_id.as_deref(), span_id.as_deref(), flags);
    let tracestate = match (&traceparent, tracestate.as_deref()) {
        (Some(_), Some(ts)) if !ts.is_empty() => tracestate_of(&[ts])
            .map(|s| s.0.clone())
            .unwrap_or_default(),
        _ => TraceState::new(),
    };
    let baggage = baggage
        .as_deref()
        .filter(|b| !b.is_empty())
        .and_then(|b| Baggage::parse(b).ok())
        .unwrap_or_default();
    TraceContext {
        traceparent,
        tracestate,
        baggage,
        remote: false,
    }
}

fn traceparent_of(trace_id: Option<&str>, span_id: Option<&str>, flags: u8) -> Option<TraceParent> {
    let trace_id = TraceId::from_hex(trace_id?).ok()?;
    let span_id = SpanId::from_hex(span_id?).ok()?;
    (!trace_id.is_zero() && !span_id.is_zero()).then_some(TraceParent {
        trace_id,
        span_id,
        flags: TraceFlags(flags),
    })
}

/// A received context from its header values (each absent or one line).
pub(crate) fn received(
    traceparent: Option<String>,
    tracestate: Option<String>,
    baggage: Option<String>,
) -> TraceContext {
    let lines = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
    TraceContext::from_header_values(&lines(traceparent), &lines(tracestate), &lines(baggage)).0
}

/// Parses a `traceparent`: `{traceId, spanId, traceFlags, traceparent}`
/// (flags as received, the header as a sender writes it).
#[wasm_bindgen(js_name = parseTraceparent)]
pub fn parse_traceparent(value: &str) -> JsResult<Object> {
    let tp = TraceParent::parse(value).map_err(to_js)?;
    let o = Object::new();
    set(&o, "traceId", tp.trace_id.to_hex());
    set(&o, "spanId", tp.span_id.to_hex());
    set(&o, "traceFlags", tp.flags.0);
    set(&o, "traceparent", tp.to_string());
    Ok(o)
}

/// A parsed `tracestate` (Level 2 keys, 32 members, the 512-character
/// serialisation rule).
#[wasm_bindgen(js_name = TraceState)]
#[derive(Clone, Default)]
pub struct JsTraceState(TraceState);

#[wasm_bindgen(js_class = TraceState)]
impl JsTraceState {
    /// An empty state.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsTraceState {
        JsTraceState::default()
    }

    /// Parses header lines (combined as if joined with `,`).
    pub fn parse(lines: Vec<String>) -> JsResult<JsTraceState> {
        TraceState::parse_lines(lines.iter().map(String::as_str))
            .map(JsTraceState)
            .map_err(to_js)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).map(str::to_owned)
    }

    /// Sets `key` (moved to the front); an invalid key or value throws and
    /// leaves the state as it was.
    pub fn insert(&mut self, key: &str, value: &str) -> JsResult<()> {
        self.0.insert(key, value).map_err(to_js)
    }

    /// Removes `key`; its value, if it was present.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// `[[key, value], ...]` in order.
    pub fn entries(&self) -> Array {
        self.0
            .iter()
            .map(|(k, v)| JsValue::from(values::strings([k, v])))
            .collect()
    }

    /// The number of members.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.0.len()
    }

    /// The header value (at most 512 characters).
    #[wasm_bindgen(js_name = toHeader)]
    pub fn to_header(&self) -> String {
        self.0.to_header()
    }

    /// A copy.
    #[wasm_bindgen(js_name = clone)]
    pub fn clone_js(&self) -> JsTraceState {
        self.clone()
    }
}

/// A parsed `baggage` (W3C Baggage: percent-decoding, limits, properties).
#[wasm_bindgen(js_name = Baggage)]
#[derive(Default)]
pub struct JsBaggage(Baggage);

#[wasm_bindgen(js_class = Baggage)]
impl JsBaggage {
    /// An empty baggage.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsBaggage {
        JsBaggage::default()
    }

    /// Parses header lines (combined as if joined with `,`).
    pub fn parse(lines: Vec<String>) -> JsResult<JsBaggage> {
        Baggage::parse_lines(lines.iter().map(String::as_str))
            .map(JsBaggage)
            .map_err(to_js)
    }

    /// Sets a member; `properties` is `[[key, value | null], ...]`. An invalid
    /// key or property throws.
    pub fn insert(&mut self, key: &str, value: &str, properties: Vec<JsValue>) -> JsResult<()> {
        let properties = properties
            .iter()
            .map(|p| {
                let p = Array::from(p);
                let key = p.get(0).as_string().unwrap_or_default();
                (key, p.get(1).as_string())
            })
            .collect();
        self.0
            .insert_member(BaggageMember {
                key: key.to_owned(),
                value: value.to_owned(),
                properties,
            })
            .map_err(to_js)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).map(str::to_owned)
    }

    /// Removes `key`; whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }

    /// `[{key, value, properties: [[key, value | null], ...], metadata}, ...]`
    /// in order; `metadata` is the properties in their wire form (what
    /// OpenTelemetry JS keeps as a member's metadata).
    pub fn members(&self) -> Array {
        self.0
            .iter()
            .map(|m| {
                let o = Object::new();
                set(&o, "key", m.key.as_str());
                set(&o, "value", m.value.as_str());
                let props: Array = m
                    .properties
                    .iter()
                    .map(|(k, v)| {
                        let pair = Array::of2(
                            &JsValue::from_str(k),
                            &v.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                        );
                        JsValue::from(pair)
                    })
                    .collect();
                set(&o, "properties", props);
                set(&o, "metadata", metadata(m));
                JsValue::from(o)
            })
            .collect()
    }

    /// The number of members.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.0.len()
    }

    /// The header value (whole members only, within the limits).
    #[wasm_bindgen(js_name = toHeader)]
    pub fn to_header(&self) -> String {
        self.0.to_header()
    }
}

/// A member's properties in their wire form: its serialisation after the
/// first `;` (a key is a token and a value is percent-encoded, so neither
/// holds a `;`).
fn metadata(m: &BaggageMember) -> String {
    if m.properties.is_empty() {
        return String::new();
    }
    let mut one = Baggage::new();
    if one.insert_member(m.clone()).is_err() {
        return String::new();
    }
    let header = one.to_header();
    header
        .split_once(';')
        .map(|(_, props)| props.to_owned())
        .unwrap_or_default()
}

/// `[key, value, metadata, ...]`: baggage as OpenTelemetry JS entries.
pub(crate) fn baggage_entries(baggage: &Baggage) -> Array {
    let out = Array::new();
    for m in baggage.iter() {
        out.push(&JsValue::from_str(&m.key));
        out.push(&JsValue::from_str(&m.value));
        out.push(&JsValue::from_str(&metadata(m)));
    }
    out
}

/// The propagator's extract: the span context a `traceparent` and
/// `tracestate` carry, packed in one string (one crossing, no object built
/// in WebAssembly): see [`push_span_context`], then the `tracestate` header
/// as the core serialises it (empty when absent or invalid). `undefined`
/// when the `traceparent` is absent or invalid.
#[wasm_bindgen(js_name = extractTraceparent)]
pub fn extract_traceparent(traceparent: &str, tracestate: Option<String>) -> Option<String> {
    let tracestate: Vec<&str> = tracestate.as_deref().into_iter().collect();
    packed_span_context(&[traceparent], &tracestate)
}

/// [`extract_traceparent`] for header lines (several `traceparent` lines
/// are invalid; `tracestate` lines are combined).
#[wasm_bindgen(js_name = extractTraceparentLines)]
pub fn extract_traceparent_lines(
    traceparent: Vec<String>,
    tracestate: Vec<String>,
) -> Option<String> {
    packed_span_context(&traceparent, &tracestate)
}

fn packed_span_context<S: AsRef<str>>(traceparent: &[S], tracestate: &[S]) -> Option<String> {
    let (ctx, _) = TraceContext::from_header_values(traceparent, &[] as &[S], &[] as &[S]);
    let tp = ctx.traceparent?;
    let mut out = String::with_capacity(64);
    push_span_context(&mut out, &tp);
    // As `from_header_values` reads it beside a valid traceparent (an
    // invalid state is dropped), through the cache.
    if !tracestate.is_empty()
        && let Some(state) = tracestate_of(tracestate)
    {
        out.push_str(&state.1);
    }
    Some(out)
}

/// Appends a received span context in 57 characters: the `traceparent` as
/// a sender writes it (55), then the flags as received, every bit (2 hex).
pub(crate) fn push_span_context(out: &mut String, tp: &TraceParent) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend(tp.encode().iter().map(|&b| char::from(b)));
    out.push(char::from(HEX[usize::from(tp.flags.0 >> 4)]));
    out.push(char::from(HEX[usize::from(tp.flags.0 & 0xf)]));
}

/// The propagator's inject: the `traceparent` header (55 characters) for a
/// span context, followed by the `tracestate` header to send (empty when
/// none). With the context this process received in the same trace
/// (`received_traceparent`, `received_tracestate`), the core's pass-on rule
/// applies (the random flag and the received members are kept).
/// `undefined` for an invalid span context.
#[wasm_bindgen(js_name = injectTraceparent)]
pub fn inject_traceparent(
    trace_id: &str,
    span_id: &str,
    flags: u8,
    tracestate: Option<String>,
    received_traceparent: Option<String>,
    received_tracestate: Option<String>,
) -> Option<String> {
    let sending = traceparent_of(Some(trace_id), Some(span_id), flags)?;
    let sdk_state = tracestate
        .as_deref()
        .filter(|t| !t.is_empty())
        .and_then(|t| tracestate_of(&[t]));
    let received = received_traceparent
        .as_deref()
        .and_then(|tp| TraceParent::parse(tp).ok());
    let mut out = String::with_capacity(64);
    match received {
        Some(traceparent) => {
            let state = received_tracestate
                .as_deref()
                .and_then(|t| tracestate_of(&[t]))
                .map(|s| s.0.clone())
                .unwrap_or_default();
            let r = Received {
                traceparent,
                accepted: state.clone(),
                tracestate: state,
            };
            let sdk = sdk_state.map(|s| s.0.clone()).unwrap_or_default();
            let (tp, ts) = r.pass_on(sending, &sdk);
            out.push_str(&tp.to_string());
            out.push_str(&ts.to_header());
        }
        None => {
            out.push_str(&sending.to_string());
            if let Some(state) = sdk_state {
                out.push_str(&state.1);
            }
        }
    }
    Some(out)
}

/// The `baggage` header for OpenTelemetry JS entries (`keys[i]`,
/// `values[i]`, `metadata[i]` the properties' wire form). A member whose key
/// or properties are invalid is left out, as a receiver would drop it.
#[wasm_bindgen(js_name = baggageHeader)]
pub fn baggage_header(keys: Vec<String>, values: Vec<String>, metadata: Vec<String>) -> String {
    let mut baggage = Baggage::new();
    for ((key, value), meta) in keys.into_iter().zip(values).zip(metadata) {
        let properties = if meta.is_empty() {
            Vec::new()
        } else {
            // The properties are read by the core's parser, on a stand-in member.
            match Baggage::parse(&format!("k=;{meta}")) {
                Ok(b) => b
                    .iter()
                    .next()
                    .map(|m| m.properties.clone())
                    .unwrap_or_default(),
                Err(_) => continue,
            }
        };
        let _ = baggage.insert_member(BaggageMember {
            key,
            value,
            properties,
        });
    }
    baggage.to_header()
}

/// The entries of a `baggage` header, `[key, value, metadata, ...]`; none
/// when it is invalid (W3C: the whole header is dropped).
#[wasm_bindgen(js_name = extractBaggage)]
pub fn extract_baggage(header: &str) -> Array {
    Baggage::parse(header)
        .map(|b| baggage_entries(&b))
        .unwrap_or_default()
}

/// The core's pass-on rule (`Received::pass_on`): what to send for the
/// SDK's span context `sending` / `sending_state` after receiving
/// `received` / `received_state`, of which the SDK accepted `accepted`.
/// `[traceparent, tracestate]`.
#[wasm_bindgen(js_name = passOn)]
pub fn pass_on(
    received: &str,
    received_state: &str,
    accepted: &str,
    sending: &str,
    sending_state: &str,
) -> JsResult<Vec<String>> {
    let received = Received {
        traceparent: TraceParent::parse(received).map_err(to_js)?,
        tracestate: TraceState::parse(received_state).map_err(to_js)?,
        accepted: TraceState::parse(accepted).map_err(to_js)?,
    };
    let (tp, ts) = received.pass_on(
        TraceParent::parse(sending).map_err(to_js)?,
        &TraceState::parse(sending_state).map_err(to_js)?,
    );
    Ok(vec![tp.to_string(), ts.to_header()])
}

/// A context as a queue carrier (a binary envelope without payload).
#[wasm_bindgen(js_name = toCarrier)]
pub fn to_carrier(
    trace_id: Option<String>,
    span_id: Option<String>,
    flags: u8,
    tracestate: Option<String>,
    baggage: Option<String>,
) -> Vec<u8> {
    sending(trace_id, span_id, flags, tracestate, baggage).to_carrier()
}

/// The context a carrier holds (see [`values::context`]); a malformed
/// carrier throws `invalid_envelope`.
#[wasm_bindgen(js_name = fromCarrier)]
pub fn from_carrier(carrier: &[u8]) -> JsResult<Object> {
    TraceContext::from_carrier(carrier)
        .map(|ctx| values::context(&ctx))
        .map_err(to_js)
}
