#![no_main]
//! Any string: parse never panics, and what parses formats back to a value
//! that parses to the same thing.
use libfuzzer_sys::fuzz_target;
use tracewire::TraceParent;

fuzz_target!(|s: &str| {
    if let Ok(tp) = TraceParent::parse(s) {
        assert_eq!(TraceParent::parse(&tp.to_string()), Ok(tp));
    }
});
