//! Runs `tests/vectors/codec.json`: the message codec for each negotiation
//! state, both directions, and what a malformed envelope records.

mod common;

use serde_json::{Value, json};
use tracewire::envelope::codec::{Codec, exception_event};
use tracewire::envelope::json::JsonEnvelope;
use tracewire::handshake::Envelopes;
use tracewire::model::{MessageType, keys};
use tracewire::{Value as AttrValue, envelope::Decoded};

/// A frame as the vector writes it: `{"utf8": ...}` or `{"hex": ...}`.
fn bytes(v: &Value) -> Vec<u8> {
    match (
        v.get("utf8").and_then(Value::as_str),
        v.get("hex").and_then(Value::as_str),
    ) {
        (Some(s), None) => s.as_bytes().to_vec(),
        (None, Some(h)) => common::hex(h),
        _ => panic!("a frame is utf8 or hex: {v}"),
    }
}

/// `bytes` written back in the form `like` uses.
fn same_form(like: &Value, b: &[u8]) -> Value {
    if like.get("utf8").is_some() {
        json!({ "utf8": String::from_utf8_lossy(b) })
    } else {
        json!({ "hex": common::to_hex(b) })
    }
}

#[test]
fn codec_vectors() {
    common::run_cases("codec", |case| {
        let name = common::name(case);
        let mut json_envelope = match case["json_mode"].as_str() {
            Some("mcp") => JsonEnvelope::mcp(),
            None => {
                JsonEnvelope::at_path(case["json_path"].as_str().expect("json_path")).expect("path")
            }
            Some(mode) => panic!("{name}: unknown json_mode {mode}"),
        };
        if let Some(strip) = case.get("strip").and_then(Value::as_bool) {
            json_envelope = json_envelope.strip_on_extract(strip);
        }
        let envelopes = Envelopes {
            json: case["envelopes"]["json"].as_bool().expect("json"),
            binary: case["envelopes"]["binary"].as_bool().expect("binary"),
        };
        let codec = Codec::new(envelopes, json_envelope);
        let message_type: MessageType = case["message_type"]
            .as_str()
            .expect("message_type")
            .parse()
            .expect("message_type");
        let frame = bytes(&case["frame"]);
        let expected = &case["expected"];
        match case["direction"].as_str().expect("direction") {
            "send" => {
                let ctx = common::context(&case["context"], false);
                let out = codec.encode(message_type, &frame, &ctx);
                let got = json!({
                    "frame": same_form(&case["frame"], &out),
                    "enveloped": matches!(out, std::borrow::Cow::Owned(_)),
                });
                assert_eq!(&got, expected, "{name}");
                if message_type == MessageType::Text {
                    assert!(
                        std::str::from_utf8(&out).is_ok(),
                        "{name}: text stays UTF-8"
                    );
                }
            }
            "receive" => {
                let decoded = codec.decode(message_type, &frame);
                let event = decoded.error().map(|e| {
                    let event = exception_event(e);
                    let mut v = json!({ "name": event.name });
                    for kv in &event.attributes {
                        let AttrValue::String(s) = &kv.value else {
                            panic!("{name}: {} is not a string", kv.key);
                        };
                        if kv.key == keys::EXCEPTION_MESSAGE {
                            assert_eq!(s, &e.to_string(), "{name}");
                        } else {
                            v[kv.key] = json!(s);
                        }
                    }
                    v
                });
                if let Decoded::Enveloped(ctx, _) = &decoded {
                    assert!(ctx.remote, "{name}: a received context is remote");
                }
                let got = json!({
                    "payload": same_form(&case["frame"], decoded.payload()),
                    "context": decoded.context().map(common::header_strings),
                    "error_code": decoded.error().map(|e| e.code().as_str()),
                    "event": event,
                    "body_size": codec.payload_size(message_type, &decoded),
                });
                assert_eq!(&got, expected, "{name}");
            }
            other => panic!("{name}: unknown direction {other}"),
        }
    });
}
