//! Differential test: every next and previous firing in `fixtures/croniter.json`, computed by
//! Python's croniter (see `fixtures/gen_croniter.py`), must come out the same through this crate.

use autoscaled_schedule::Rule;
use chrono_tz::Tz;
use serde_json::Value;

use crate::common::t;

const FIXTURE: &str = include_str!("../fixtures/croniter.json");

#[test]
fn next_and_previous_firings_agree_with_croniter() {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 300, "only {} cases", cases.len());
    let mut disagreements = Vec::new();
    for case in cases {
        let field = |name: &str| case[name].as_str().unwrap();
        let rule = Rule::new(field("expr"), 1).unwrap();
        let zone: Tz = field("zone").parse().unwrap();
        let at = t(field("at"));
        let next = rule.next_after(at, zone);
        let prev = rule.last_at_or_before(at, zone);
        if next != Some(t(field("next"))) || prev != Some(t(field("prev"))) {
            disagreements.push(format!("{case}: got next {next:?}, prev {prev:?}",));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}
