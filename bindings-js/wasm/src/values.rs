//! Core values as JavaScript values.

use js_sys::{Array, Object, Reflect};
use tracewire::{KeyValue, TraceContext, Value};
use wasm_bindgen::JsValue;

/// `obj[key] = value`. Setting a property on a plain object cannot fail.
pub(crate) fn set(obj: &impl AsRef<JsValue>, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj.as_ref(), &JsValue::from_str(key), &value.into());
}

/// An attribute value: strings, numbers (integers are exact up to 2^53,
/// which sizes, ports and counts stay within) and booleans.
pub(crate) fn value(v: &Value) -> JsValue {
    match v {
        Value::String(s) => JsValue::from_str(s),
        Value::Int(i) => JsValue::from_f64(*i as f64),
        Value::Float(f) => JsValue::from_f64(*f),
        Value::Bool(b) => JsValue::from_bool(*b),
    }
}

/// Attributes as an object, in the core's order.
pub(crate) fn attributes(attrs: &[KeyValue]) -> Object {
    let o = Object::new();
    for kv in attrs {
        set(&o, kv.key, value(&kv.value));
    }
    o
}

/// Strings as an array.
pub(crate) fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Array {
    items.into_iter().map(JsValue::from_str).collect()
}

/// A received context: `traceparent`, `tracestate` and `baggage` as the
/// core writes them (absent when empty), and what an OpenTelemetry span
/// context needs: `traceId`, `spanId` and `traceFlags` as received (every
/// bit), and the baggage as `[key, value, metadata, ...]`.
pub(crate) fn context(ctx: &TraceContext) -> Object {
    let o = Object::new();
    if let Some(tp) = &ctx.traceparent {
        set(&o, "traceparent", tp.to_string());
        set(&o, "traceId", tp.trace_id.to_hex());
        set(&o, "spanId", tp.span_id.to_hex());
        set(&o, "traceFlags", tp.flags.0);
        if !ctx.tracestate.is_empty() {
            set(&o, "tracestate", ctx.tracestate.to_header());
        }
    }
    if !ctx.baggage.is_empty() {
        set(&o, "baggage", ctx.baggage.to_header());
        set(
            &o,
            "baggageEntries",
            crate::context::baggage_entries(&ctx.baggage),
        );
    }
    set(&o, "remote", ctx.remote);
    o
}
