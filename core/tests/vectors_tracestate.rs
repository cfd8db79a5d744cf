//! Runs `tests/vectors/tracestate.json`.

mod common;

use serde_json::Value;
use tracewire::{ErrorCode, TraceState};

/// The strings of a JSON array (missing or not an array: none).
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Applies a case's `ops` in order; describes the first mismatch.
fn apply_ops(ts: &mut TraceState, case: &Value) -> Result<(), String> {
    for op in case["ops"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let op = strings(op);
        match op.as_slice() {
            ["insert", k, v] => ts
                .insert(k, v)
                .map_err(|e| format!("insert {k:?}={v:?}: {e}"))?,
            ["insert_fails", k, v] => {
                let before = ts.clone();
                if ts.insert(k, v).is_ok() {
                    return Err(format!("insert {k:?}={v:?} accepted"));
                }
                if *ts != before {
                    return Err(format!("failed insert {k:?} changed the state"));
                }
            }
            ["remove", k] => {
                ts.remove(k);
            }
            other => return Err(format!("unknown op {other:?}")),
        }
    }
    Ok(())
}

fn check_valid(ts: &TraceState, case: &Value) -> Result<(), String> {
    let expected: Vec<(&str, &str)> = case["entries"]
        .as_array()
        .ok_or("no entries")?
        .iter()
        .map(|e| {
            let e = strings(e);
            (
                e.first().copied().unwrap_or(""),
                e.get(1).copied().unwrap_or(""),
            )
        })
        .collect();
    let got: Vec<(&str, &str)> = ts.iter().collect();
    if got != expected {
        return Err(format!("entries {got:?}, expected {expected:?}"));
    }
    if ts.len() != expected.len() || ts.is_empty() != expected.is_empty() {
        return Err("len/is_empty disagree with the entries".into());
    }
    for (k, v) in &expected {
        if ts.get(k) != Some(v) {
            return Err(format!("get({k:?}) is {:?}", ts.get(k)));
        }
    }
    let output = common::opt_str(case, "output").ok_or("no output")?;
    let header = ts.to_header();
    if header != output {
        return Err(format!("to_header {header:?}, expected {output:?}"));
    }
    if header.len() > tracewire::tracestate::MAX_HEADER_LEN {
        return Err("to_header over 512 characters".into());
    }
    Ok(())
}

#[test]
fn tracestate_vectors() {
    let cases = common::cases("tracestate");
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = common::name(case);
        let valid = case["valid"].as_bool().expect("valid");
        let result = TraceState::parse_lines(strings(&case["input"]));
        let outcome = match (result, valid) {
            (Ok(mut ts), true) => apply_ops(&mut ts, case).and_then(|()| check_valid(&ts, case)),
            (Err(e), false) if e.code() == ErrorCode::InvalidTraceState => Ok(()),
            (Err(e), false) => Err(format!("wrong code {:?}", e.code())),
            (Ok(ts), false) => Err(format!("accepted as {:?}", ts.to_header())),
            (Err(e), true) => Err(format!("rejected: {e}")),
        };
        if let Err(msg) = outcome {
            failures.push(format!("{name}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn single_line_parse_matches_parse_lines() {
    for case in common::cases("tracestate") {
        let lines = strings(&case["input"]);
        if let [line] = lines.as_slice() {
            assert_eq!(
                TraceState::parse(line),
                TraceState::parse_lines([*line]),
                "{}",
                common::name(&case)
            );
        }
    }
}
