//! Loads the shared vector files in `tests/vectors/` at the repository root.

#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

/// The directory holding the shared vector files.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// The cases of one vector file (`name` without `.json`).
pub fn cases(name: &str) -> Vec<Value> {
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    doc["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no cases array", path.display()))
        .clone()
}

/// A case's name, for assertion messages.
pub fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap_or("<unnamed>")
}

/// A string member of a case, or `None` when absent or null.
pub fn opt_str<'a>(case: &'a Value, key: &str) -> Option<&'a str> {
    case.get(key).and_then(Value::as_str)
}

/// Decodes a hex string from a vector file.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `check` on every case of a vector file, then fails listing every
/// case that failed (not only the first).
pub fn run_cases(file: &str, check: impl Fn(&Value)) {
    let cases = cases(file);
    assert!(!cases.is_empty(), "{file}: no cases");
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case)))
                .err()
                .map(|e| {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default();
                    format!("{}: {msg}", name(case))
                })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{file}: {} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

/// A context from a vector's header strings (`traceparent`, `tracestate`,
/// `baggage`; null or absent = none), marked `remote` as given.
pub fn context(v: &Value, remote: bool) -> tracewire::TraceContext {
    use tracewire::{Baggage, TraceParent, TraceState};
    tracewire::TraceContext {
        traceparent: opt_str(v, "traceparent").map(|s| TraceParent::parse(s).expect("traceparent")),
        tracestate: opt_str(v, "tracestate")
            .map(|s| TraceState::parse(s).expect("tracestate"))
            .unwrap_or_default(),
        baggage: opt_str(v, "baggage")
            .map(|s| Baggage::parse(s).expect("baggage"))
            .unwrap_or_default(),
        remote,
    }
}

/// A context's header strings as a vector file writes them (null = absent).
pub fn header_strings(ctx: &tracewire::TraceContext) -> Value {
    serde_json::json!({
        "traceparent": ctx.traceparent.map(|t| t.to_string()),
        "tracestate": (!ctx.tracestate.is_empty()).then(|| ctx.tracestate.to_header()),
        "baggage": (!ctx.baggage.is_empty()).then(|| ctx.baggage.to_header()),
    })
}
