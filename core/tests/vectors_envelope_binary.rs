//! Runs `tests/vectors/envelope_binary.json`.

mod common;

use serde_json::Value;
use tracewire::envelope::{Decoded, binary};
use tracewire::{Baggage, TraceContext, TraceParent, TraceState};

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
        remote: true,
    }
}

#[test]
fn binary_envelope_vectors() {
    common::run_cases("envelope_binary", |case| {
        let name = common::name(case);
        let frame = common::hex(case["frame"].as_str().expect("frame"));
        let payload = common::hex(case["payload"].as_str().expect("payload"));
        match case["op"].as_str().expect("op") {
            "encode" => {
                let got = binary::encode(&context(&case["context"]), &payload);
                assert_eq!(common::to_hex(&got), common::to_hex(&frame), "{name}");
            }
            "decode" => {
                let decoded = binary::decode(&frame);
                assert_eq!(decoded.payload(), &payload[..], "{name}");
                match (case["result"].as_str().expect("result"), &decoded) {
                    ("plain", Decoded::Plain(_)) => {}
                    ("enveloped", Decoded::Enveloped(ctx, p)) => {
                        assert!(
                            matches!(p, std::borrow::Cow::Borrowed(_)),
                            "{name}: payload was copied"
                        );
                        assert_eq!(ctx, &context(&case["context"]), "{name}");
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
