#![no_main]
//! The server side of the handshake. Input: fields split on 0xFF: a
//! selector byte (supported envelopes), the query string (none when empty),
//! then header name / value pairs.
//!
//! Never panics. The context is valid and remote, with a tracestate only
//! beside a traceparent and baggage within its limits; a single valid
//! `traceparent` header wins over the query, which is read otherwise; the
//! envelopes are within what the server supports, answered in the response
//! header and read back by the client; the session id is 1 to 128 visible
//! ASCII characters. The context injected as headers (a list or an
//! `http::HeaderMap`) extracts back as a receiver sees it. Query values
//! form-encoded again decode to themselves.
use libfuzzer_sys::fuzz_target;
use tracewire::TraceParent;
use tracewire::handshake::{
    self, AppProtocols, ClientHandshake, Envelopes, ServerHandshake, query_values,
};
use tracewire_fuzz::{check_baggage_limits, check_context, fields, received, text};

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let Some(sel) = f.first().and_then(|s| s.first()) else {
        return;
    };
    let supported = Envelopes {
        json: sel & 1 != 0,
        binary: sel & 2 != 0,
    };
    let query = f.get(1).copied().and_then(text).filter(|q| !q.is_empty());
    let mut headers: Vec<(String, String)> = Vec::new();
    for pair in f.get(2..).unwrap_or_default().chunks(2) {
        let (Some(name), Some(value)) = (text(pair[0]), pair.get(1).copied().and_then(text)) else {
            continue;
        };
        headers.push((name.to_owned(), value.to_owned()));
    }

    let apps = AppProtocols::new(["mcp"]).expect("a token");
    let hs = ServerHandshake::from_request(&headers, query, supported, &apps);
    let ctx = &hs.context;
    check_context(ctx);
    check_baggage_limits(&ctx.baggage);
    assert!(ctx.remote);
    assert_eq!(
        handshake::extract(&headers, query),
        (ctx.clone(), hs.issues.clone())
    );

    let tp_headers: Vec<&str> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("traceparent"))
        .map(|(_, v)| v.as_str())
        .collect();
    match tp_headers.as_slice() {
        [one] => assert_eq!(ctx.traceparent, TraceParent::parse(one).ok()),
        [] => {
            let q = query
                .map(|q| query_values(q, "traceparent"))
                .unwrap_or_default();
            if let [one] = q.as_slice() {
                assert_eq!(ctx.traceparent, TraceParent::parse(one).ok());
            } else {
                assert_eq!(ctx.traceparent, None);
            }
        }
        _ => assert_eq!(ctx.traceparent, None, "several traceparent headers"),
    }

    assert!(hs.envelopes.is_subset(supported));
    assert_eq!(
        hs.response_headers().len(),
        usize::from(hs.subprotocol.is_some())
    );
    // A client whose offer holds the selection reads it back as the server did.
    let client = ClientHandshake::new(Envelopes::ALL).with_apps(apps);
    match &hs.subprotocol {
        Some(selected) if client.subprotocols().contains(selected) => {
            let negotiated = client.negotiated(Some(selected));
            assert_eq!(negotiated.envelopes, hs.envelopes);
            assert_eq!(negotiated.app_protocol, hs.app_protocol);
        }
        Some(_) => {}
        None => assert!(hs.envelopes.is_empty() && hs.app_protocol.is_none()),
    }
    assert!(!hs.session_id.is_empty() && hs.session_id.len() <= 128);
    assert!(hs.session_id.bytes().all(|b| b.is_ascii_graphic()));

    // Inject -> extract, through a list of pairs and an http::HeaderMap.
    let want = received(ctx);
    let mut list: Vec<(String, String)> = Vec::new();
    handshake::inject(ctx, &mut list);
    let (got, issues) = handshake::extract(&list, None);
    assert_eq!(got, want);
    assert!(issues.is_empty(), "{issues:?}");
    let mut map = http::HeaderMap::new();
    handshake::inject(ctx, &mut map);
    assert_eq!(map.len(), list.len());
    assert_eq!(handshake::extract(&map, None).0, want);

    if let Some(q) = query {
        for name in ["traceparent", "baggage", "tracewire-session"] {
            for v in query_values(q, name) {
                let again = format!("x=1&{}={}", form_encode(name), form_encode(&v));
                assert_eq!(query_values(&again, name), vec![v]);
            }
        }
    }
});
