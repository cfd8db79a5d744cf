//! Runs `tests/vectors/pass_on.json` through [`Received::pass_on`].

mod common;

use serde_json::Value;
use tracewire::{Received, TraceParent, TraceState};

fn traceparent(v: &Value) -> TraceParent {
    TraceParent::parse(v["traceparent"].as_str().expect("traceparent")).expect("valid traceparent")
}

fn state(v: &Value) -> TraceState {
    TraceState::parse(v.as_str().expect("a tracestate header")).expect("valid tracestate")
}

#[test]
fn pass_on_vectors() {
    common::run_cases("pass_on", |case| {
        let received = Received {
            traceparent: traceparent(&case["received"]),
            tracestate: state(&case["received"]["tracestate"]),
            accepted: state(&case["accepted"]),
        };
        let (tp, ts) = received.pass_on(
            traceparent(&case["sending"]),
            &state(&case["sending"]["tracestate"]),
        );
        assert_eq!(
            tp.to_string(),
            case["expect"]["traceparent"].as_str().expect("expect")
        );
        assert_eq!(
            ts.to_header(),
            case["expect"]["tracestate"].as_str().expect("expect")
        );
    });
}
