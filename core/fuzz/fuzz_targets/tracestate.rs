#![no_main]
//! Any header lines (split on '\n'): parsing never panics; lines combine as
//! if joined by ','; a parsed value holds at most 32 unique, valid entries;
//! its header is at most 512 characters, made of whole entries in order, and
//! parse -> serialise -> parse is a fixed point (equal to the value when
//! nothing had to be truncated). Insert and remove keep the limits.
use libfuzzer_sys::fuzz_target;
use tracewire::TraceState;
use tracewire::tracestate::{MAX_HEADER_LEN, MAX_MEMBERS};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = s.split('\n').collect();
    let parsed = TraceState::parse_lines(lines.iter().copied());
    assert_eq!(parsed, TraceState::parse(&lines.join(",")));
    let Ok(ts) = parsed else {
        return;
    };
    assert!(ts.len() <= MAX_MEMBERS);
    let entries: Vec<(&str, &str)> = ts.iter().collect();
    let mut keys: Vec<&str> = entries.iter().map(|e| e.0).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), entries.len(), "duplicate keys");
    for (k, v) in &entries {
        assert_eq!(ts.get(k), Some(*v), "get returns the first entry");
    }
    let header = ts.to_header();
    assert!(header.len() <= MAX_HEADER_LEN);
    let again = TraceState::parse(&header).expect("a tracestate parses its own header");
    assert_eq!(again.to_header(), header, "not a fixed point");
    // Truncation removes whole entries and keeps the order.
    let mut rest = entries.iter();
    for e in again.iter() {
        assert!(
            rest.any(|x| *x == e),
            "{e:?} is not an entry of the parsed value"
        );
    }
    let full: usize = entries
        .iter()
        .map(|(k, v)| k.len() + v.len() + 1)
        .sum::<usize>()
        + entries.len().saturating_sub(1);
    if full <= MAX_HEADER_LEN {
        assert_eq!(again, ts);
        assert_eq!(
            TraceState::from_entries(entries.iter().copied()),
            Ok(ts.clone())
        );
    }
    // Updates: insert moves the key to the front; remove takes it out.
    if let Some((k, v)) = entries.last() {
        let mut t = ts.clone();
        t.insert(k, v).expect("an entry of a parsed value is valid");
        assert_eq!(t.iter().next(), Some((*k, *v)));
        assert_eq!(t.len(), ts.len());
        assert_eq!(t.remove(k).as_deref(), Some(*v));
        assert_eq!(t.get(k), None);
        assert_eq!(t.len(), ts.len() - 1);
    }
});
