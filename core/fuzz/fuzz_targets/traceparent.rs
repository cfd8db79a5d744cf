#![no_main]
//! Any string: parsing never panics; what parses formats as version 00 and
//! parse -> format -> parse is a fixed point. A version-00 value formats
//! back byte for byte; a higher version keeps its first 55 characters under
//! version 00. The ids round-trip through their hex forms.
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
    assert_eq!(TraceParent::parse(&out), Ok(tp));
    if s.starts_with("00") {
        assert_eq!(out, s);
    } else {
        assert_eq!(&out[2..], &s[2..55]);
    }
    assert_eq!(TraceId::from_hex(&tp.trace_id.to_hex()), Ok(tp.trace_id));
    assert_eq!(SpanId::from_hex(&tp.span_id.to_hex()), Ok(tp.span_id));
});
