//! Runs `tests/vectors/traceparent.json`.

mod common;

use tracewire::TraceParent;

#[test]
fn traceparent_vectors() {
    common::run_cases("traceparent", |case| {
        let name = common::name(case);
        let input = common::opt_str(case, "input").expect("input");
        let parsed = TraceParent::parse(input);
        if case["valid"].as_bool().expect("valid") {
            let tp = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                tp.trace_id.to_hex(),
                case["trace_id"].as_str().expect("trace_id"),
                "{name}"
            );
            assert_eq!(
                tp.span_id.to_hex(),
                case["span_id"].as_str().expect("span_id"),
                "{name}"
            );
            assert_eq!(
                u64::from(tp.flags.0),
                case["flags"].as_u64().expect("flags"),
                "{name}"
            );
            assert_eq!(
                tp.to_string(),
                case["output"].as_str().expect("output"),
                "{name}"
            );
        } else {
            assert!(parsed.is_err(), "{name}: accepted {input:?}");
        }
    });
}
