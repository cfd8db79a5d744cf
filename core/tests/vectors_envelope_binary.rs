//! Runs `tests/vectors/envelope_binary.json`.

mod common;

use tracewire::TraceContext;
use tracewire::envelope::{Decoded, binary};

#[test]
fn binary_envelope_vectors() {
    common::run_cases("envelope_binary", |case| {
        let name = common::name(case);
        let frame = common::hex(case["frame"].as_str().expect("frame"));
        let payload = common::hex(case["payload"].as_str().expect("payload"));
        match case["op"].as_str().expect("op") {
            "encode" => {
                let got = binary::encode(&common::context(&case["context"], true), &payload);
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
                        // Compared as a receiver re-emits them (unknown flag bits zeroed).
                        assert_eq!(
                            common::header_strings(ctx),
                            common::header_strings(&common::context(&case["context"], true)),
                            "{name}"
                        );
                        assert!(ctx.remote, "{name}");
                        // With no payload, the same bytes are a queue carrier.
                        let carrier = TraceContext::from_carrier(&frame);
                        if payload.is_empty() {
                            assert_eq!(carrier.as_ref(), Ok(ctx), "{name}: carrier");
                        } else {
                            assert!(
                                carrier.is_err(),
                                "{name}: carrier with trailing bytes accepted"
                            );
                        }
                    }
                    ("malformed", Decoded::Malformed(e, _)) => {
                        let carrier = TraceContext::from_carrier(&frame);
                        assert_eq!(carrier.as_ref().err(), Some(e), "{name}: carrier");
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
