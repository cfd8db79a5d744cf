//! Runs `tests/vectors/envelope_json.json`.

mod common;

use serde_json::Value;
use tracewire::envelope::{Decoded, json::JsonEnvelope};
use tracewire::{Baggage, TraceContext, TraceParent, TraceState};

/// A context from the vector's header strings.
fn context(v: &Value) -> TraceContext {
    TraceContext {
        traceparent: common::opt_str(v, "traceparent")
            .map(|s| TraceParent::parse(s).expect("traceparent")),
        tracestate: common::opt_str(v, "tracestate")
            .map(|s| TraceState::parse(s).expect("tracestate"))
            .unwrap_or_default(),
        baggage: common::opt_str(v, "baggage")
            .map(|s| Baggage::parse(s).expect("baggage"))
            .unwrap_or_default(),
        remote: false,
    }
}

fn headers(ctx: &TraceContext) -> (Option<String>, Option<String>, Option<String>) {
    (
        ctx.traceparent.map(|t| t.to_string()),
        (!ctx.tracestate.is_empty()).then(|| ctx.tracestate.to_header()),
        (!ctx.baggage.is_empty()).then(|| ctx.baggage.to_header()),
    )
}

#[test]
fn json_envelope_vectors() {
    common::run_cases("envelope_json", |case| {
        let name = common::name(case);
        let env = JsonEnvelope::at_path(case["path"].as_str().expect("path"))
            .expect("path")
            .strip_on_extract(case["strip"].as_bool().unwrap_or(false));
        let frame = case["frame"].as_str().expect("frame").as_bytes();
        match case["op"].as_str().expect("op") {
            "inject" => {
                let got = env.inject(frame, &context(&case["context"]));
                if case["valid"].as_bool().expect("valid") {
                    let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        case["expected_frame"].as_str().expect("expected_frame"),
                        "{name}"
                    );
                } else {
                    let err = got.expect_err(name);
                    assert_eq!(
                        err.code().name(),
                        case["error_code"].as_str().expect("code"),
                        "{name}"
                    );
                }
            }
            "extract" => {
                let decoded = env.extract(frame);
                let want_payload = case["payload"].as_str().expect("payload");
                assert_eq!(
                    String::from_utf8_lossy(decoded.payload()),
                    want_payload,
                    "{name}"
                );
                match (case["result"].as_str().expect("result"), &decoded) {
                    ("plain", Decoded::Plain(_)) => {}
                    ("enveloped", Decoded::Enveloped(ctx, _)) => {
                        assert!(ctx.remote, "{name}");
                        let want = context(&case["context"]);
                        assert_eq!(headers(ctx), headers(&want), "{name}");
                    }
                    ("malformed", Decoded::Malformed(e, _)) => {
                        assert_eq!(
                            e.code().name(),
                            case["error_code"].as_str().expect("code"),
                            "{name}"
                        );
                    }
                    (want, got) => panic!("{name}: expected {want}, got {got:?}"),
                }
            }
            op => panic!("{name}: unknown op {op}"),
        }
    });
}
