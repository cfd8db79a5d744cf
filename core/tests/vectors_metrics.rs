//! Runs `tests/vectors/metrics.json` through `record_chunk_at`.

mod common;

use serde_json::Value as Json;
use std::time::Duration;
use tracewire::{StreamKind, StreamMetrics, StreamSnapshot, Value};

/// Relative tolerance for doubles: the vectors hold exact values rounded once,
/// an implementation may round twice (ns to f64, then / 1e9).
const REL_TOL: f64 = 1e-12;

fn close(actual: f64, expected: f64) -> bool {
    actual == expected || (actual - expected).abs() <= REL_TOL * expected.abs().max(actual.abs())
}

fn check_opt(name: &str, field: &str, actual: Option<f64>, expected: &Json) {
    match (actual, expected.as_f64()) {
        (None, None) => assert!(
            expected.is_null(),
            "{name}: {field} is not a number or null"
        ),
        (Some(a), Some(e)) => assert!(close(a, e), "{name}: {field} = {a}, expected {e}"),
        (a, _) => panic!("{name}: {field} = {a:?}, expected {expected}"),
    }
}

fn kind(case: &Json) -> StreamKind {
    match case["kind"].as_str() {
        Some("generic") => StreamKind::Generic,
        Some("model_output") => StreamKind::ModelOutput,
        other => panic!("{}: unknown kind {other:?}", common::name(case)),
    }
}

fn check_snapshot(name: &str, s: &StreamSnapshot, e: &Json) {
    assert_eq!(
        Some(s.chunk_count),
        e["chunk_count"].as_u64(),
        "{name}: chunk_count"
    );
    assert_eq!(Some(s.bytes), e["bytes"].as_u64(), "{name}: bytes");
    let fields = [
        ("time_to_first_chunk", s.time_to_first_chunk),
        ("time_to_last_chunk", s.time_to_last_chunk),
        ("interval_mean", s.interval_mean),
        ("interval_p50", s.interval_p50),
        ("interval_p95", s.interval_p95),
        ("interval_max", s.interval_max),
    ];
    for (field, actual) in fields {
        check_opt(name, field, actual, &e[field]);
    }
}

#[test]
fn metrics_vectors() {
    let cases = common::cases("metrics");
    assert!(cases.len() >= 15, "too few metrics cases");
    for case in &cases {
        let name = common::name(case);
        let kind = kind(case);
        let m = StreamMetrics::new(kind);
        for chunk in case["chunks"].as_array().expect("chunks") {
            let ns = chunk[0].as_u64().expect("elapsed_ns");
            let bytes = chunk[1].as_u64().expect("bytes");
            m.record_chunk_at(Duration::from_nanos(ns), bytes);
        }
        let (snapshot, intervals) = m.snapshot_and_intervals();
        assert_eq!(snapshot, m.snapshot(), "{name}: snapshots differ");
        let expected = &case["expected"];
        check_snapshot(name, &snapshot, expected);

        let want = expected["intervals"].as_array().expect("intervals");
        assert_eq!(intervals.len(), want.len(), "{name}: interval count");
        for (i, (a, e)) in intervals.iter().zip(want).enumerate() {
            let e = e.as_f64().expect("interval");
            assert!(close(*a, e), "{name}: interval {i} = {a}, expected {e}");
        }

        let attrs = snapshot.attributes(kind);
        let want = case["expected_attributes"]
            .as_array()
            .expect("expected_attributes");
        assert_eq!(attrs.len(), want.len(), "{name}: attributes {attrs:?}");
        for (kv, pair) in attrs.iter().zip(want) {
            let key = pair[0].as_str().expect("key");
            assert_eq!(kv.key, key, "{name}");
            match &kv.value {
                Value::Int(v) => assert_eq!(Some(*v), pair[1].as_i64(), "{name}: {key}"),
                Value::Float(v) => {
                    let e = pair[1].as_f64().expect("float");
                    assert!(close(*v, e), "{name}: {key} = {v}, expected {e}");
                }
                other => panic!("{name}: {key} has unexpected value {other:?}"),
            }
        }
    }
}

#[test]
fn metric_names_per_kind() {
    let g = StreamKind::Generic.metric_names();
    let m = StreamKind::ModelOutput.metric_names();
    assert_eq!(
        m.time_to_first_chunk.name,
        "gen_ai.client.operation.time_to_first_chunk"
    );
    assert_eq!(
        m.chunk_interval.name,
        "gen_ai.client.operation.time_per_output_chunk"
    );
    assert_eq!(
        g.time_to_first_chunk.name,
        "tracewire.stream.time_to_first_chunk"
    );
    assert_eq!(g.chunk_interval.name, "tracewire.stream.chunk_interval");
    for names in [g, m] {
        for h in [
            names.time_to_first_chunk,
            names.time_to_last_chunk,
            names.chunk_interval,
        ] {
            assert_eq!(h.unit, "s", "{}", h.name);
            assert!(!h.description.is_empty());
        }
        assert_eq!(names.chunk_count.unit, "{chunk}");
        assert_eq!(names.bytes.unit, "By");
    }
}
