#![no_main]
//! Any header lines (split on '\n'): parsing never panics; lines combine as
//! if joined by ','; a parsed value has at most 64 members with unique keys
//! and a header of at most 8192 bytes; parse -> serialise -> parse is a
//! fixed point (the value itself, members, values and properties included).
use libfuzzer_sys::fuzz_target;
use tracewire::Baggage;
use tracewire_fuzz::check_baggage_limits;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = s.split('\n').collect();
    let parsed = Baggage::parse_lines(lines.iter().copied());
    assert_eq!(parsed, Baggage::parse(&lines.join(",")));
    let Ok(b) = parsed else {
        return;
    };
    check_baggage_limits(&b);
    let header = b.to_header();
    let again = Baggage::parse(&header).expect("a baggage parses its own header");
    assert_eq!(
        again, b,
        "parse -> serialise -> parse is not the same value"
    );
    assert_eq!(again.to_header(), header);
    for m in b.iter() {
        assert_eq!(b.get(&m.key), Some(m.value.as_str()));
        // Building the same members gives the same header.
        let mut built = Baggage::new();
        built
            .insert_member(m.clone())
            .expect("a parsed member is valid");
        assert_eq!(
            Baggage::parse(&built.to_header())
                .ok()
                .as_ref()
                .and_then(|x| x.iter().next()),
            Some(m)
        );
    }
});
