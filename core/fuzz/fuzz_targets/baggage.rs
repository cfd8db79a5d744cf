#![no_main]
//! Any string: parse never panics; a parsed value survives its own header.
use libfuzzer_sys::fuzz_target;
use tracewire::Baggage;

fuzz_target!(|s: &str| {
    if let Ok(b) = Baggage::parse(s) {
        let header = b.to_header();
        assert!(header.len() <= 8192);
        assert_eq!(Baggage::parse(&header).map(|p| p.len()), Ok(b.len()));
    }
});
