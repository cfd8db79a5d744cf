//! Runs `tests/vectors/handshake.json`.

mod common;

use serde_json::Value;
use tracewire::handshake::{self, AppProtocols, ClientHandshake, Envelopes, ServerHandshake};

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("headers")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("name").to_owned(),
                p[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

fn envelopes(v: &Value) -> Envelopes {
    let names: Vec<&str> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s.as_str().expect("name"))
        .collect();
    Envelopes {
        json: names.contains(&"json"),
        binary: names.contains(&"binary"),
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect()
}

fn apps(case: &Value) -> AppProtocols {
    AppProtocols::new(strings(&case["app_protocols"])).expect("valid app protocols")
}

#[test]
fn handshake_vectors() {
    common::run_cases("handshake", |case| {
        let name = common::name(case);
        let query = common::opt_str(case, "query");
        match case["op"].as_str().expect("op") {
            "extract" => {
                let (ctx, issues) = handshake::extract(&pairs(&case["headers"]), query);
                assert!(ctx.remote, "{name}");
                assert_eq!(common::header_strings(&ctx), case["context"], "{name}");
                let codes: Vec<&str> = issues.iter().map(|i| i.code().name()).collect();
                let want: Vec<&str> = case["issues"]
                    .as_array()
                    .expect("issues")
                    .iter()
                    .map(|v| v.as_str().expect("code"))
                    .collect();
                assert_eq!(codes, want, "{name}");
            }
            "inject" => {
                let ctx = common::context(&case["context"], false);
                let mut out: Vec<(String, String)> = Vec::new();
                handshake::inject(&ctx, &mut out);
                assert_eq!(out, pairs(&case["headers"]), "{name}");
                let mut map = http::HeaderMap::new();
                handshake::inject(&ctx, &mut map);
                assert_eq!(
                    handshake::extract(&map, None).0.traceparent,
                    ctx.traceparent,
                    "{name}: via HeaderMap"
                );
            }
            "offer" => {
                let apps = AppProtocols::new(strings(&case["app_protocols"]));
                match common::opt_str(case, "error") {
                    Some(code) => {
                        let e = apps.expect_err(name);
                        assert_eq!(e.code().name(), code, "{name}");
                    }
                    None => {
                        let client = ClientHandshake::new(envelopes(&case["envelopes"]))
                            .with_apps(apps.expect("valid"));
                        assert_eq!(
                            client.subprotocols(),
                            strings(&case["subprotocols"]),
                            "{name}"
                        );
                    }
                }
            }
            "select" => {
                let headers: Vec<(&str, &str)> = strings(&case["offered"])
                    .into_iter()
                    .map(|v| ("Sec-WebSocket-Protocol", v))
                    .collect();
                let hs = ServerHandshake::from_request(
                    &headers,
                    None,
                    envelopes(&case["supported"]),
                    &apps(case),
                );
                let selected = common::opt_str(case, "selected");
                assert_eq!(hs.subprotocol.as_deref(), selected, "{name}");
                assert_eq!(hs.envelopes, envelopes(&case["envelopes"]), "{name}");
                let app = common::opt_str(case, "app_protocol");
                assert_eq!(hs.app_protocol.as_deref(), app, "{name}");
                let response: Vec<(&str, String)> = hs.response_headers();
                let want: Vec<(&str, String)> = selected
                    .map(|s| ("sec-websocket-protocol", s.to_owned()))
                    .into_iter()
                    .collect();
                assert_eq!(response, want, "{name}: response headers");
            }
            "client_reads" => {
                let client =
                    ClientHandshake::new(envelopes(&case["envelopes"])).with_apps(apps(case));
                let got = client.negotiated(common::opt_str(case, "selected"));
                assert_eq!(got.envelopes, envelopes(&case["accepted"]), "{name}");
                let app = common::opt_str(case, "app_protocol");
                assert_eq!(got.app_protocol.as_deref(), app, "{name}");
            }
            "session" => {
                let hs = ServerHandshake::from_request(
                    &pairs(&case["headers"]),
                    query,
                    Envelopes::ALL,
                    &AppProtocols::default(),
                );
                match common::opt_str(case, "session_id") {
                    Some(id) => assert_eq!(hs.session_id, id, "{name}"),
                    None => {
                        assert_eq!(hs.session_id.len(), 32, "{name}");
                        assert!(
                            hs.session_id
                                .bytes()
                                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                            "{name}"
                        );
                    }
                }
            }
            op => panic!("{name}: unknown op {op}"),
        }
    });
}

#[test]
fn generated_session_ids_differ() {
    let ids: std::collections::HashSet<String> =
        (0..1000).map(|_| handshake::new_session_id()).collect();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn query_values_decode_as_url_search_params() {
    // What `new URLSearchParams(q).getAll("k")` returns in a browser.
    let cases: [(&str, &[&str]); 6] = [
        ("k=%zz", &["%zz"]),
        ("k=a%FFb", &["a\u{FFFD}b"]),
        ("k=%E2%82", &["\u{FFFD}"]),
        ("k=%F0%9F%98%80+%2B", &["\u{1F600} +"]),
        ("?k&k=&k=1", &["", "", "1"]),
        ("%6B=x&k%=y", &["x"]),
    ];
    for (query, want) in cases {
        assert_eq!(handshake::query_values(query, "k"), want, "{query}");
    }
}
