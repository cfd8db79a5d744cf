//! Runs `tests/vectors/envelope_json.json`.

mod common;

use tracewire::envelope::{Decoded, json::JsonEnvelope};

#[test]
fn json_envelope_vectors() {
    common::run_cases("envelope_json", |case| {
        let name = common::name(case);
        let env = match case["mode"].as_str() {
            Some("mcp") => JsonEnvelope::mcp(),
            None => JsonEnvelope::at_path(case["path"].as_str().expect("path")).expect("path"),
            Some(mode) => panic!("{name}: unknown mode {mode}"),
        }
        .strip_on_extract(case["strip"].as_bool().unwrap_or(false));
        let frame = case["frame"].as_str().expect("frame").as_bytes();
        match case["op"].as_str().expect("op") {
            "inject" => {
                let got = env.inject(frame, &common::context(&case["context"], false));
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
                        let want = common::context(&case["context"], false);
                        assert_eq!(
                            common::header_strings(ctx),
                            common::header_strings(&want),
                            "{name}"
                        );
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
