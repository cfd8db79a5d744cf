#![no_main]
//! Any string: parsing never panics; what parses formats as version 00 with
//! only the flags this version defines (W3C: a sender zeroes the others),
//! and parse -> format -> parse gives it back with those flags. Spaces and
//! tabs around the value are ignored. A version-00 value formats back byte
//! for byte up to the flags; a higher version keeps its ids under version
//! 00. The ids round-trip through their hex forms.
use libfuzzer_sys::fuzz_target;
use tracewire::{SpanId, TraceId, TraceParent};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tp) = TraceParent::parse(s) else {
        return;
    };
    let out = tp.to_string();
    assert_eq!(out.len(), tracewire::traceparent::TRACEPARENT_LEN);
    assert_eq!(out.as_bytes(), &tp.encode());
    let sent = TraceParent {
        flags: tp.flags.known(),
        ..tp
    };
    assert_eq!(TraceParent::parse(&out), Ok(sent));
    assert_eq!(&out[53..], format!("{:02x}", sent.flags.0));
    let trimmed = s.trim_matches([' ', '\t']);
    if trimmed.starts_with("00") {
        assert_eq!(out[..53], trimmed[..53]);
    } else {
        assert_eq!(&out[2..53], &trimmed[2..53]);
    }
    assert_eq!(TraceId::from_hex(&tp.trace_id.to_hex()), Ok(tp.trace_id));
    assert_eq!(SpanId::from_hex(&tp.span_id.to_hex()), Ok(tp.span_id));
});
