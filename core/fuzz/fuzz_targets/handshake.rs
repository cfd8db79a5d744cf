#![no_main]
//! Any header values and query string: the server side of the handshake
//! never panics and always produces a usable session id.
use libfuzzer_sys::fuzz_target;
use tracewire::handshake::{Envelopes, ServerHandshake};

fuzz_target!(|input: (Vec<(String, String)>, Option<String>)| {
    let (headers, query) = input;
    let hs = ServerHandshake::from_request(&headers, query.as_deref(), Envelopes::ALL);
    assert!(!hs.session_id.is_empty() && hs.session_id.len() <= 128);
    let _ = hs.response_headers();
});
