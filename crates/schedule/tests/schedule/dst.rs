//! Daylight-saving changes in America/New_York (2026-03-08, 2026-11-01) and Europe/Berlin
//! (2026-03-29, 2026-10-25): a skipped time fires at the first minute after the gap, a repeated
//! hour fires a fixed-time rule once. croniter fires such a rule twice in the repeated hour, so
//! these cases are written here by hand rather than generated.

use autoscaled_schedule::Rule;
use chrono_tz::{America::New_York, Europe::Berlin};

use crate::common::{change, schedule, t};

#[test]
fn new_york_spring_forward_fires_after_the_gap() {
    // 02:30 does not exist on 2026-03-08: the clock jumps from 02:00 EST to 03:00 EDT (07:00Z).
    let rule = Rule::new("30 2 * * *", 1).unwrap();
    assert_eq!(
        rule.next_after(t("2026-03-08T05:00:00Z"), New_York),
        Some(t("2026-03-08T07:00:00Z"))
    );
    assert_eq!(
        rule.next_after(t("2026-03-08T07:00:00Z"), New_York),
        Some(t("2026-03-09T06:30:00Z"))
    );
    assert_eq!(
        rule.last_at_or_before(t("2026-03-08T08:00:00Z"), New_York),
        Some(t("2026-03-08T07:00:00Z"))
    );
    // The day before and after, the same rule fires at 02:30 local.
    assert_eq!(
        rule.next_after(t("2026-03-07T00:00:00Z"), New_York),
        Some(t("2026-03-07T07:30:00Z"))
    );
}

#[test]
fn new_york_fall_back_fires_a_fixed_time_rule_once() {
    // 01:30 happens twice on 2026-11-01: 05:30Z (EDT) and 06:30Z (EST).
    let rule = Rule::new("30 1 * * *", 1).unwrap();
    assert_eq!(
        rule.next_after(t("2026-11-01T04:00:00Z"), New_York),
        Some(t("2026-11-01T05:30:00Z"))
    );
    assert_eq!(
        rule.next_after(t("2026-11-01T05:30:00Z"), New_York),
        Some(t("2026-11-02T06:30:00Z"))
    );
    assert_eq!(
        rule.last_at_or_before(t("2026-11-01T06:45:00Z"), New_York),
        Some(t("2026-11-01T05:30:00Z"))
    );
    // An interval rule fires in both halves of the repeated hour.
    let every_half_hour = Rule::new("*/30 * * * *", 1).unwrap();
    let mut at = t("2026-11-01T04:50:00Z");
    let mut seen = Vec::new();
    for _ in 0..4 {
        at = every_half_hour.next_after(at, New_York).unwrap();
        seen.push(at);
    }
    assert_eq!(
        seen,
        [
            t("2026-11-01T05:00:00Z"),
            t("2026-11-01T05:30:00Z"),
            t("2026-11-01T06:00:00Z"),
            t("2026-11-01T06:30:00Z"),
        ]
    );
}

#[test]
fn berlin_spring_forward_and_fall_back() {
    let rule = Rule::new("30 2 * * *", 1).unwrap();
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z).
    assert_eq!(
        rule.next_after(t("2026-03-28T23:00:00Z"), Berlin),
        Some(t("2026-03-29T01:00:00Z"))
    );
    // 2026-10-25: 02:30 happens at 00:30Z (CEST) and 01:30Z (CET); it fires once.
    assert_eq!(
        rule.next_after(t("2026-10-24T23:00:00Z"), Berlin),
        Some(t("2026-10-25T00:30:00Z"))
    );
    assert_eq!(
        rule.next_after(t("2026-10-25T00:30:00Z"), Berlin),
        Some(t("2026-10-26T01:30:00Z"))
    );
}

#[test]
fn a_schedule_follows_local_time_across_the_changes() {
    let s = schedule(
        &[("0 7 * * *", 3), ("0 22 * * *", 2), ("30 2 * * *", 1)],
        New_York,
        1,
    );
    assert_eq!(
        s.changes(t("2026-03-07T00:00:00Z"), t("2026-03-09T00:00:00Z")),
        vec![
            change("2026-03-07T03:00:00Z", 2), // 22:00 EST on the 6th
            change("2026-03-07T07:30:00Z", 1), // 02:30 EST
            change("2026-03-07T12:00:00Z", 3), // 07:00 EST
            change("2026-03-08T03:00:00Z", 2), // 22:00 EST
            change("2026-03-08T07:00:00Z", 1), // 02:30 skipped: 03:00 EDT
            change("2026-03-08T11:00:00Z", 3), // 07:00 EDT
        ]
    );
    // The local day of 2026-03-08 has 23 hours: 2 until 02:30 → 03:00 EDT (2 h), 1 until 07:00
    // (4 h), 3 until 22:00 (15 h), 2 until midnight (2 h).
    let hours = s.dyno_hours(t("2026-03-08T05:00:00Z"), t("2026-03-09T04:00:00Z"));
    assert_eq!(hours, 2.0 * 2.0 + 4.0 + 15.0 * 3.0 + 2.0 * 2.0);
    // The local day of 2026-11-01 has 25 hours, the extra one before 02:30 EST (07:30Z): 2 for
    // 3.5 h, 1 until 07:00 EST (4.5 h), 3 until 22:00 (15 h), 2 until midnight (2 h).
    let hours = s.dyno_hours(t("2026-11-01T04:00:00Z"), t("2026-11-02T05:00:00Z"));
    assert_eq!(hours, 3.5 * 2.0 + 4.5 + 15.0 * 3.0 + 2.0 * 2.0);
    let s = schedule(&[("0 7 * * *", 3), ("30 1 * * *", 1)], New_York, 1);
    assert_eq!(
        s.changes(t("2026-11-01T00:00:00Z"), t("2026-11-01T12:00:00Z")),
        vec![
            change("2026-11-01T05:30:00Z", 1),
            change("2026-11-01T12:00:00Z", 3)
        ]
    );
}

#[test]
fn a_rule_with_several_hours_also_fires_after_the_gap() {
    // croner alone skips these (it moves only single-hour, single-minute rules); cron(8) and
    // croniter fire them at 03:00 EDT, and so does this crate, so no change is lost.
    for cron in ["0 */2 * * *", "0 2,14 * * *", "30 2-4 * * *"] {
        let rule = Rule::new(cron, 1).unwrap();
        assert_eq!(
            rule.next_after(t("2026-03-08T06:10:00Z"), New_York),
            Some(t("2026-03-08T07:00:00Z")),
            "{cron}"
        );
        assert_eq!(
            rule.last_at_or_before(t("2026-03-08T07:20:00Z"), New_York),
            Some(t("2026-03-08T07:00:00Z")),
            "{cron}"
        );
    }
    // A rule that names no skipped time is not moved into the gap's edge.
    let rule = Rule::new("0 4-6 * * *", 1).unwrap();
    assert_eq!(
        rule.next_after(t("2026-03-08T06:10:00Z"), New_York),
        Some(t("2026-03-08T08:00:00Z"))
    );
    let s = schedule(
        &[("0 7 * * *", 3), ("0 2,14 * * *", 1), ("0 18 * * *", 2)],
        New_York,
        1,
    );
    assert_eq!(
        s.changes(t("2026-03-08T00:00:00Z"), t("2026-03-08T12:00:00Z")),
        vec![
            change("2026-03-08T07:00:00Z", 1),
            change("2026-03-08T11:00:00Z", 3)
        ]
    );
}
