#![no_main]
//! The URL target. Input: fields split on 0xFF: a URL; then a scheme
//! selector, a `Host` header (absent when the field is missing), a request
//! target.
//!
//! Never panics. Every path is a request-line path: it starts with `/`,
//! holds only visible ASCII outside `"<>\^`{|}`, no query or fragment, and
//! reading it again gives it back (a fixed point). A client URL always
//! yields a lowercase address and a port, and rebuilding a URL from the
//! result reads back the same target. The lenient server form agrees with
//! the strict one when that succeeds, and never knows a port without an
//! address.
use libfuzzer_sys::fuzz_target;
use tracewire::target::{Scheme, Target};
use tracewire_fuzz::{fields, text};

fn check_path(p: &str) {
    assert!(p.starts_with('/'), "{p:?}");
    assert!(
        p.bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"<>\\^`{|}?#".contains(&b)),
        "{p:?}"
    );
    let again = Target::from_request(None, None, p).expect("a path reads again");
    assert_eq!(again.path, p, "not a fixed point");
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    if let Some(url) = f.first().copied().and_then(text)
        && let Ok(t) = Target::from_url(url)
    {
        let address = t.address.clone().expect("a client URL has an address");
        assert!(!address.is_empty());
        assert!(
            !address
                .bytes()
                .any(|b| b.is_ascii_uppercase() || b == b'@' || b == b'[')
        );
        let port = t.port.expect("a client URL has a port");
        check_path(&t.path);
        let host = if address.contains(':') {
            format!("[{address}]")
        } else {
            address
        };
        let rebuilt = format!("ws://{host}:{port}{}", t.path);
        assert_eq!(Target::from_url(&rebuilt), Ok(t), "{rebuilt:?}");
    }
    let scheme = match f.get(1).and_then(|s| s.first()) {
        Some(b) if b % 3 == 1 => Some(Scheme::Ws),
        Some(b) if b % 3 == 2 => Some(Scheme::Wss),
        _ => None,
    };
    let host = f.get(2).copied().and_then(text);
    let request_target = f.get(3).copied().and_then(text).unwrap_or("");
    let lenient = Target::from_request_lenient(scheme, host, request_target);
    check_path(&lenient.path);
    if lenient.address.is_none() {
        assert_eq!(lenient.port, None);
    }
    if let Some(a) = &lenient.address {
        assert!(!a.is_empty() && !a.bytes().any(|b| b.is_ascii_uppercase()));
    }
    match Target::from_request(scheme, host, request_target) {
        Ok(t) => {
            assert_eq!(t, lenient);
            if host.is_none() && request_target.starts_with('/') {
                assert_eq!(t.address, None);
            }
        }
        // The fallback drops the Host: nothing is known about the server.
        Err(_) => assert_eq!((lenient.address, lenient.port), (None, None)),
    }
});
