//! Runs `tests/vectors/target.json`: URL to server address, port and path.

mod common;

use serde_json::{Value, json};
use tracewire::model::{Connection, Model, Role};
use tracewire::target::{Scheme, Target};

fn as_json(t: &Target) -> Value {
    json!({ "address": t.address, "port": t.port, "path": t.path })
}

#[test]
fn target_vectors() {
    common::run_cases("target", |case| {
        let name = common::name(case);
        let got = match case["side"].as_str().expect("side") {
            "client" => Target::from_url(case["url"].as_str().expect("url")),
            "server" => {
                let scheme: Option<Scheme> =
                    common::opt_str(case, "scheme").map(|s| s.parse().expect("scheme"));
                let host = common::opt_str(case, "host");
                let request_target = case["request_target"].as_str().expect("request_target");
                let lenient = Target::from_request_lenient(scheme, host, request_target);
                match case.get("lenient") {
                    Some(expected) => assert_eq!(&as_json(&lenient), expected, "{name}: lenient"),
                    None => assert_eq!(
                        Some(&as_json(&lenient)),
                        case.get("expected"),
                        "{name}: lenient form of a valid request"
                    ),
                }
                Target::from_request(scheme, host, request_target)
            }
            other => panic!("{name}: unknown side {other}"),
        };
        match got {
            Ok(target) => {
                assert_eq!(case["valid"], json!(true), "{name}: accepted {target:?}");
                assert_eq!(as_json(&target), case["expected"], "{name}");
                // The connection records exactly the target.
                let conn =
                    Connection::from_target(Model::Message, Role::Client, "s", target.clone());
                assert_eq!(conn.url_path, target.path, "{name}");
                assert_eq!(conn.server_address, target.address, "{name}");
                assert_eq!(conn.server_port, target.port, "{name}");
                assert_eq!(
                    conn.open().name,
                    format!("connect {}", target.path),
                    "{name}"
                );
            }
            Err(e) => {
                assert_eq!(case["valid"], json!(false), "{name}: rejected: {e}");
                assert_eq!(case["error_code"], json!(e.code().as_str()), "{name}");
            }
        }
    });
}
