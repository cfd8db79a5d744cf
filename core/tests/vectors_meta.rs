//! Rules every vector file follows, checked on all of them at once.

mod common;

use serde_json::Value;

/// Files whose every case, valid or not, says why it exists: they state
/// rules a binding applies, and a failing case should explain the rule.
const EVERY_CASE_HAS_A_REASON: &[&str] = &["apply", "codec", "pass_on", "target"];

#[test]
fn every_invalid_case_has_a_reason_and_every_case_a_unique_name() {
    let mut total = 0;
    for entry in std::fs::read_dir(common::vectors_dir()).expect("tests/vectors") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_owned();
        let cases = common::cases(&stem);
        let mut names = std::collections::HashSet::new();
        for case in &cases {
            let name = common::name(case);
            assert!(
                names.insert(name.to_owned()),
                "{stem}: duplicate case name {name}"
            );
            if case.get("valid") == Some(&Value::Bool(false))
                || EVERY_CASE_HAS_A_REASON.contains(&stem.as_str())
            {
                let reason = common::opt_str(case, "reason").unwrap_or("");
                assert!(!reason.is_empty(), "{stem}/{name}: a case without a reason");
            }
        }
        total += cases.len();
    }
    assert!(total > 0, "no vector cases found");
}
