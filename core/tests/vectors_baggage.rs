//! Runs `tests/vectors/baggage.json`: parse cases (`input`) and build cases (`build`).

mod common;

use serde_json::Value;
use tracewire::{Baggage, BaggageMember, ErrorCode};

/// The strings of a JSON array (missing or not an array: none).
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A `{key, value, properties: [[k, v-or-null]]}` object.
fn member(v: &Value) -> BaggageMember {
    BaggageMember {
        key: v["key"].as_str().expect("key").to_owned(),
        value: v["value"].as_str().expect("value").to_owned(),
        properties: v["properties"]
            .as_array()
            .expect("properties")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("property key").to_owned(),
                    p[1].as_str().map(str::to_owned),
                )
            })
            .collect(),
    }
}

fn members(v: &Value) -> Vec<BaggageMember> {
    v.as_array()
        .map(|a| a.iter().map(member).collect())
        .unwrap_or_default()
}

fn check_valid(bag: &Baggage, case: &Value) -> Result<(), String> {
    let expected = members(&case["members"]);
    let got: Vec<BaggageMember> = bag.iter().cloned().collect();
    if got != expected {
        return Err(format!("members {got:?}, expected {expected:?}"));
    }
    if bag.len() != expected.len() || bag.is_empty() != expected.is_empty() {
        return Err("len/is_empty disagree with the members".into());
    }
    for m in &expected {
        if bag.get(&m.key) != Some(m.value.as_str()) {
            return Err(format!("get({:?}) is {:?}", m.key, bag.get(&m.key)));
        }
    }
    let output = common::opt_str(case, "output").ok_or("no output")?;
    let header = bag.to_header();
    if header != output {
        return Err(format!("to_header {header:?}, expected {output:?}"));
    }
    Ok(())
}

fn build(case: &Value) -> Result<Baggage, tracewire::BaggageError> {
    let mut bag = Baggage::new();
    for m in members(&case["build"]) {
        bag.insert_member(m)?;
    }
    Ok(bag)
}

#[test]
fn baggage_vectors() {
    let cases = common::cases("baggage");
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = common::name(case);
        let valid = case["valid"].as_bool().expect("valid");
        let result = if case.get("build").is_some() {
            build(case)
        } else {
            Baggage::parse_lines(strings(&case["input"]))
        };
        let outcome = match (result, valid) {
            (Ok(bag), true) => check_valid(&bag, case),
            (Err(e), false) if e.code() == ErrorCode::InvalidBaggage => Ok(()),
            (Err(e), false) => Err(format!("wrong code {:?}", e.code())),
            (Ok(bag), false) => Err(format!("accepted as {:?}", bag.to_header())),
            (Err(e), true) => Err(format!("rejected: {e}")),
        };
        if let Err(msg) = outcome {
            failures.push(format!("{name}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn valid_outputs_parse_back_to_the_same_members() {
    for case in common::cases("baggage") {
        if case["valid"].as_bool() != Some(true) {
            continue;
        }
        let output = common::opt_str(&case, "output").expect("output");
        let reparsed = Baggage::parse(output).expect("output parses");
        assert_eq!(
            reparsed.iter().cloned().collect::<Vec<_>>(),
            members(&case["members"])
                .into_iter()
                .take(reparsed.len())
                .collect::<Vec<_>>(),
            "{}",
            common::name(&case)
        );
        assert_eq!(reparsed.to_header(), output, "{}", common::name(&case));
    }
}
