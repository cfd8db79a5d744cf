//! Runs `tests/vectors/model.json`.

mod common;

use serde_json::{Map, Value, json};
use tracewire::ErrorCode;
use tracewire::model::{
    Connection, LinkSource, MessageType, Model, ParentSource, Role, SpanDecision, SpanKind,
};
use tracewire::{KeyValue, Value as AttrValue};

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
        "kind": d.kind.as_str(),
        "parent": d.parent.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "links": d.links.iter().map(|l| l.as_str()).collect::<Vec<_>>(),
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
        let role: Role = case["role"].as_str().expect("role").parse().expect("role");
        let mut conn = Connection::new(
            model,
            role,
            case["session_id"].as_str().expect("session_id"),
            case["url_path"].as_str().expect("url_path"),
        );
        if let Some(addr) = common::opt_str(case, "server_address") {
            conn = conn.with_server(addr, case["server_port"].as_u64().map(|p| p as u16));
        }
        if let Some(route) = common::opt_str(case, "route") {
            conn = conn.with_route(route);
        }
        let mt = || -> MessageType {
            case["message_type"]
                .as_str()
                .unwrap_or("text")
                .parse()
                .expect("message_type")
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

/// Every name round-trips, and the tables list each variant once: bindings
/// generate their tables from these.
#[test]
fn names_round_trip() {
    fn check<T: Copy + PartialEq + std::fmt::Debug + std::str::FromStr>(
        all: &[T],
        as_str: fn(T) -> &'static str,
    ) {
        let mut seen = std::collections::HashSet::new();
        for &v in all {
            let name = as_str(v);
            assert!(seen.insert(name), "duplicate name {name}");
            assert_eq!(name.parse::<T>().ok(), Some(v), "{name}");
            assert_eq!(name.to_uppercase().parse::<T>().ok(), Some(v), "{name}");
        }
        assert!("no such name".parse::<T>().is_err());
    }
    check(Model::ALL, Model::as_str);
    check(Role::ALL, Role::as_str);
    check(SpanKind::ALL, SpanKind::as_str);
    check(MessageType::ALL, MessageType::as_str);
    check(ParentSource::ALL, ParentSource::as_str);
    check(LinkSource::ALL, LinkSource::as_str);
    check(ErrorCode::ALL, ErrorCode::as_str);
    for &code in ErrorCode::ALL {
        assert_eq!(ErrorCode::from_u32(code.as_u32()), Some(code));
    }
    assert_eq!(ErrorCode::from_u32(0), None);
}
