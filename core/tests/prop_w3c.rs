//! Property tests for `tracestate` and `baggage`: serialising then parsing
//! gives back what was serialised, and parsing never panics on any input.

use proptest::prelude::*;
use tracewire::{Baggage, BaggageMember, TraceState};

/// A Level 2 tracestate key.
fn ts_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9_*/@-]{0,20}",
        "[a-z0-9][a-z0-9_*/@-]{0,255}",
        "[a-z0-9]{1,241}@[a-z][a-z0-9_*/-]{0,13}",
    ]
}

/// A tracestate value: printable ASCII without ',' or '=', not ending in a space.
fn ts_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,20}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
        "[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,255}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]",
    ]
}

fn tracestate() -> impl Strategy<Value = TraceState> {
    proptest::collection::vec((ts_key(), ts_value()), 0..40).prop_map(|entries| {
        let mut ts = TraceState::new();
        for (k, v) in entries {
            // The strategies only produce valid keys and values.
            let inserted = ts.insert(&k, &v);
            debug_assert!(inserted.is_ok());
        }
        ts
    })
}

/// An RFC 7230 token.
fn token() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,16}"
}

fn baggage_member() -> impl Strategy<Value = BaggageMember> {
    (
        token(),
        any::<String>(),
        proptest::collection::vec((token(), proptest::option::of(any::<String>())), 0..3),
    )
        .prop_map(|(key, value, properties)| BaggageMember {
            key,
            value,
            properties,
        })
}

fn baggage() -> impl Strategy<Value = Baggage> {
    proptest::collection::vec(baggage_member(), 0..80).prop_map(|members| {
        let mut bag = Baggage::new();
        for m in members {
            let inserted = bag.insert_member(m);
            debug_assert!(inserted.is_ok());
        }
        bag
    })
}

/// Input that often gets deep into the grammars: their punctuation, OWS,
/// escapes, letters of both cases, and some non-ASCII.
fn header_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 \\t,;=%@*/_.\"\\\\-]{0,120}",
        "([a-z]{1,4}( ?= ?)[%0-9a-fA-F ]{0,8}(;[a-z]{0,3}(=[%0-9A-F]{0,4})?)?[ ,]{0,3}){0,20}",
        "\\PC{0,80}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn tracestate_round_trips(ts in tracestate()) {
        let header = ts.to_header();
        prop_assert!(header.len() <= tracewire::tracestate::MAX_HEADER_LEN);
        prop_assert!(ts.len() <= tracewire::tracestate::MAX_MEMBERS);
        let parsed = TraceState::parse(&header);
        prop_assert!(parsed.is_ok(), "{:?}: {:?}", header, parsed);
        let parsed = parsed.unwrap_or_default();
        prop_assert_eq!(parsed.to_header(), header.clone());

        // Truncation removes whole entries and keeps the order of the rest.
        let all: Vec<(&str, &str)> = ts.iter().collect();
        let mut rest = all.iter();
        for entry in parsed.iter() {
            prop_assert!(rest.any(|e| *e == entry), "{:?} out of order", entry);
        }
        let untruncated: usize =
            all.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>().saturating_sub(1);
        if untruncated <= tracewire::tracestate::MAX_HEADER_LEN {
            prop_assert_eq!(parsed, ts);
        }
    }

    #[test]
    fn tracestate_ows_and_empty_members_are_ignored(ts in tracestate(), pad in "[ \\t]{0,2}(,[ \\t]{0,2}){0,2}") {
        let header = ts.to_header();
        let padded = header.replace(',', &format!("{pad},{pad}"));
        let lines = [pad.as_str(), padded.as_str(), pad.as_str()];
        prop_assert_eq!(TraceState::parse_lines(lines), TraceState::parse(&header));
    }

    #[test]
    fn baggage_round_trips(bag in baggage()) {
        let header = bag.to_header();
        prop_assert!(header.len() <= tracewire::baggage::MAX_BYTES);
        let parsed = Baggage::parse(&header);
        prop_assert!(parsed.is_ok(), "{:?}: {:?}", header, parsed);
        let parsed = parsed.unwrap_or_default();
        prop_assert!(parsed.len() <= tracewire::baggage::MAX_MEMBERS);
        prop_assert_eq!(parsed.to_header(), header.clone());
        // Whole members are kept, in order, from the front.
        let kept: Vec<&BaggageMember> = bag.iter().take(parsed.len()).collect();
        prop_assert_eq!(parsed.iter().collect::<Vec<_>>(), kept);
        // A member is dropped only when it would break a limit.
        if let Some(next) = bag.iter().nth(parsed.len()) {
            let mut alone = Baggage::new();
            prop_assert!(alone.insert_member(next.clone()).is_ok());
            let next_len = alone.to_header().len();
            prop_assert!(
                parsed.len() == tracewire::baggage::MAX_MEMBERS
                    || next_len == 0
                    || header.len() + usize::from(!header.is_empty()) + next_len
                        > tracewire::baggage::MAX_BYTES,
                "member {} dropped without reaching a limit",
                parsed.len()
            );
        }
    }

    #[test]
    fn tracestate_parse_never_panics(s in header_like(), t in header_like()) {
        let _ = TraceState::parse(&s);
        let _ = TraceState::parse_lines([s.as_str(), t.as_str()]);
        let mut ts = TraceState::new();
        let _ = ts.insert(&s, &t);
        let _ = ts.to_header();
    }

    #[test]
    fn baggage_parse_never_panics(s in header_like(), t in header_like()) {
        let _ = Baggage::parse(&s);
        let _ = Baggage::parse_lines([s.as_str(), t.as_str()]);
        let mut bag = Baggage::new();
        let _ = bag.insert(&s, &t);
        let _ = bag.to_header();
    }

    #[test]
    fn parsed_values_reserialise_to_a_fixed_point(s in header_like()) {
        // Whatever parses must serialise to a header that parses to the same thing.
        if let Ok(ts) = TraceState::parse(&s) {
            let h = ts.to_header();
            let again = TraceState::parse(&h);
            prop_assert!(again.is_ok());
            prop_assert_eq!(again.unwrap_or_default().to_header(), h);
        }
        if let Ok(bag) = Baggage::parse(&s) {
            let h = bag.to_header();
            prop_assert_eq!(Baggage::parse(&h), Ok(bag));
        }
    }
}
