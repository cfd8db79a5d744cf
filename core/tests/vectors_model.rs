//! Runs `tests/vectors/model.json`.

mod common;

use serde_json::{Map, Value, json};
use tracewire::model::{
    Connection, LinkSource, MessageType, Model, ParentSource, Role, SpanDecision, SpanKind,
};
use tracewire::{KeyValue, Value as AttrValue};

fn kind(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn parent(p: &ParentSource) -> &'static str {
    match p {
        ParentSource::Remote => "remote",
        ParentSource::Ambient => "ambient",
        ParentSource::AmbientInConnectionTrace => "ambient_in_connection_trace",
        ParentSource::Connection => "connection",
    }
}

fn link(l: &LinkSource) -> &'static str {
    match l {
        LinkSource::Connection => "connection",
    }
}

fn attributes(attrs: &[KeyValue]) -> Value {
    let mut m = Map::new();
    for kv in attrs {
        let v = match &kv.value {
            AttrValue::String(s) => json!(s),
            AttrValue::Int(i) => json!(i),
            AttrValue::Float(f) => json!(f),
            AttrValue::Bool(b) => json!(b),
        };
        assert!(
            m.insert(kv.key.to_owned(), v).is_none(),
            "duplicate attribute {}",
            kv.key
        );
    }
    Value::Object(m)
}

fn span(d: &SpanDecision) -> Value {
    json!({
        "name": d.name,
        "kind": kind(d.kind),
        "parent": d.parent.iter().map(parent).collect::<Vec<_>>(),
        "links": d.links.iter().map(link).collect::<Vec<_>>(),
        "attributes": attributes(&d.attributes),
    })
}

#[test]
fn model_vectors() {
    common::run_cases("model", |case| {
        let name = common::name(case);
        let model: Model = case["model"]
            .as_str()
            .expect("model")
            .parse()
            .expect("model");
        let role = match case["role"].as_str().expect("role") {
            "client" => Role::Client,
            _ => Role::Server,
        };
        let mut conn = Connection::new(
            model,
            role,
            case["session_id"].as_str().expect("session_id"),
            case["url_path"].as_str().expect("url_path"),
        );
        if let Some(addr) = common::opt_str(case, "server_address") {
            conn = conn.with_server(addr, case["server_port"].as_u64().map(|p| p as u16));
        }
        let mt = || match case["message_type"].as_str() {
            Some("binary") => MessageType::Binary,
            _ => MessageType::Text,
        };
        let size = || case["size"].as_u64().unwrap_or(0) as usize;
        let got = match case["event"].as_str().expect("event") {
            "open" => {
                let mut v = span(&conn.open());
                v["ends_at_upgrade"] = json!(conn.connection_span_ends_at_upgrade());
                v
            }
            "send" => span(&conn.send(mt(), size())),
            "receive" => span(&conn.receive(mt(), size())),
            "close" => {
                let code = case["close_code"].as_u64().map(|c| c as u16);
                let d = conn.close(code, case["close_reason"].as_str().unwrap_or(""));
                json!({
                    "attributes": attributes(&d.attributes),
                    "is_error": d.is_error,
                    "span": d.span.as_ref().map(span),
                })
            }
            e => panic!("{name}: unknown event {e}"),
        };
        assert_eq!(got, case["expected"], "{name}");
    });
}
