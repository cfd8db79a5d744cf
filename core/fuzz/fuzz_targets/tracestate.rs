#![no_main]
//! Any string: parse never panics; a parsed value survives its own header.
use libfuzzer_sys::fuzz_target;
use tracewire::TraceState;

fuzz_target!(|s: &str| {
    if let Ok(ts) = TraceState::parse(s) {
        let header = ts.to_header();
        assert!(header.len() <= 512);
        assert!(TraceState::parse(&header).is_ok());
    }
});
