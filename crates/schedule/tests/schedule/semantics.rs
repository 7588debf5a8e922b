//! What the baseline is, when it changes and how many dyno-hours it runs, at the edges.

use autoscaled_schedule::{Error, Rule, Schedule};
use chrono::TimeDelta;
use chrono_tz::{America::New_York, Tz, UTC};

use crate::common::{change, schedule, seed, t};

#[test]
fn seed_schedule_baseline_through_a_day() {
    let s = seed(UTC);
    assert_eq!(s.baseline_at(t("2026-11-27T02:59:59Z")), 2);
    assert_eq!(s.baseline_at(t("2026-11-27T03:00:00Z")), 1);
    assert_eq!(s.baseline_at(t("2026-11-27T06:59:59.999Z")), 1);
    assert_eq!(s.baseline_at(t("2026-11-27T07:00:00Z")), 3);
    assert_eq!(s.baseline_at(t("2026-11-27T07:00:59Z")), 3);
    assert_eq!(s.baseline_at(t("2026-11-27T21:59:00Z")), 3);
    assert_eq!(s.baseline_at(t("2026-11-27T22:00:00Z")), 2);
}

#[test]
fn changes_over_two_days_are_exact_and_half_open() {
    let s = seed(UTC);
    // (from, to]: a change exactly at `from` is not listed, one exactly at `to` is.
    assert_eq!(
        s.changes(t("2026-11-27T03:00:00Z"), t("2026-11-29T03:00:00Z")),
        vec![
            change("2026-11-27T07:00:00Z", 3),
            change("2026-11-27T22:00:00Z", 2),
            change("2026-11-28T03:00:00Z", 1),
            change("2026-11-28T07:00:00Z", 3),
            change("2026-11-28T22:00:00Z", 2),
            change("2026-11-29T03:00:00Z", 1),
        ]
    );
    assert!(
        s.changes(t("2026-11-27T08:00:00Z"), t("2026-11-27T08:00:00Z"))
            .is_empty()
    );
    assert!(
        s.changes(t("2026-11-28T08:00:00Z"), t("2026-11-27T08:00:00Z"))
            .is_empty()
    );
}

#[test]
fn firings_that_keep_the_value_are_not_changes() {
    let s = schedule(
        &[("0 7 * * *", 3), ("0 8 * * *", 3), ("0 22 * * *", 1)],
        UTC,
        1,
    );
    assert_eq!(
        s.changes(t("2026-11-27T00:00:00Z"), t("2026-11-28T00:00:00Z")),
        vec![
            change("2026-11-27T07:00:00Z", 3),
            change("2026-11-27T22:00:00Z", 1)
        ]
    );
    assert_eq!(
        s.next_change_after(t("2026-11-27T07:00:00Z")),
        Some(change("2026-11-27T22:00:00Z", 1))
    );
}

#[test]
fn dyno_hours_match_the_hand_computed_day() {
    let s = seed(UTC);
    // 15 h × 3 + 5 h × 2 + 4 h × 1, from any starting point of the day.
    for start in [
        "2026-11-27T00:00:00Z",
        "2026-11-27T07:00:00Z",
        "2026-11-27T13:17:41Z",
    ] {
        let from = t(start);
        assert_eq!(
            s.dyno_hours(from, from + TimeDelta::days(1)),
            59.0,
            "from {start}"
        );
    }
    assert_eq!(
        s.dyno_hours(t("2026-11-27T00:00:00Z"), t("2026-12-04T00:00:00Z")),
        7.0 * 59.0
    );
    let flat = schedule(&[("0 0 * * *", 3)], UTC, 1);
    assert_eq!(
        flat.dyno_hours(t("2026-11-27T00:00:00Z"), t("2026-11-28T00:00:00Z")),
        72.0
    );
    // Half an hour at 1, half an hour at 3.
    assert_eq!(
        s.dyno_hours(t("2026-11-27T06:30:00Z"), t("2026-11-27T07:30:00Z")),
        2.0
    );
    assert_eq!(
        s.dyno_hours(t("2026-11-27T07:30:00Z"), t("2026-11-27T06:30:00Z")),
        0.0
    );
}

#[test]
fn a_later_rule_wins_a_tie() {
    let at = t("2026-11-27T12:00:00Z");
    assert_eq!(
        schedule(&[("0 7 * * *", 3), ("0 7 * * *", 5)], UTC, 1).baseline_at(at),
        5
    );
    assert_eq!(
        schedule(&[("0 7 * * *", 5), ("0 7 * * *", 3)], UTC, 1).baseline_at(at),
        3
    );
}

#[test]
fn a_weekend_rule_later_in_the_list_overrides_the_weekday_one() {
    // 2026-11-27 is a Friday.
    let s = schedule(
        &[("0 7 * * *", 3), ("0 7 * * SAT,SUN", 1), ("0 22 * * *", 1)],
        UTC,
        1,
    );
    assert_eq!(s.baseline_at(t("2026-11-27T12:00:00Z")), 3);
    assert_eq!(s.baseline_at(t("2026-11-28T12:00:00Z")), 1);
    assert_eq!(
        s.changes(t("2026-11-27T00:00:00Z"), t("2026-12-01T00:00:00Z")),
        vec![
            change("2026-11-27T07:00:00Z", 3),
            change("2026-11-27T22:00:00Z", 1),
            change("2026-11-30T07:00:00Z", 3),
            change("2026-11-30T22:00:00Z", 1),
        ]
    );
    assert_eq!(
        s.next_change_after(t("2026-11-27T22:00:00Z")),
        Some(change("2026-11-30T07:00:00Z", 3))
    );
}

#[test]
fn a_firing_300_days_ago_still_counts() {
    // Last fired 2026-02-01, 299 days before.
    let s = schedule(&[("0 0 1 2 *", 4)], UTC, 1);
    assert_eq!(s.baseline_at(t("2026-11-27T00:00:00Z")), 4);
}

#[test]
fn a_yearly_rule_counts_all_year() {
    let s = schedule(
        &[("0 0 1 1 *", 5), ("@yearly", 5), ("0 0 2 1 *", 2)],
        UTC,
        1,
    );
    assert_eq!(s.baseline_at(t("2026-12-31T23:59:59Z")), 2);
    assert_eq!(s.baseline_at(t("2027-01-01T00:00:00Z")), 5);
    assert_eq!(
        s.changes(t("2026-06-01T00:00:00Z"), t("2027-06-01T00:00:00Z")),
        vec![
            change("2027-01-01T00:00:00Z", 5),
            change("2027-01-02T00:00:00Z", 2)
        ]
    );
    let alone = schedule(&[("0 0 1 1 *", 5)], UTC, 1);
    // 2028 is a leap year: 365 days after its firing the rule still holds.
    assert_eq!(alone.baseline_at(t("2028-12-31T23:59:59Z")), 5);
    assert_eq!(alone.next_change_after(t("2028-06-01T00:00:00Z")), None);
}

#[test]
fn a_rule_that_did_not_fire_in_366_days_falls_back() {
    // 29 February: fired 2024-02-29, next 2028-02-29.
    let s = schedule(&[("0 0 29 2 *", 4)], UTC, 1);
    assert_eq!(s.baseline_at(t("2024-06-01T00:00:00Z")), 4);
    assert_eq!(s.baseline_at(t("2025-02-28T23:59:59Z")), 4);
    assert_eq!(s.baseline_at(t("2025-03-01T00:00:00Z")), 1);
    assert_eq!(s.baseline_at(t("2027-06-01T00:00:00Z")), 1);
    // Falling out of the window is a change too, 366 days after the firing.
    assert_eq!(
        s.changes(t("2024-03-01T00:00:00Z"), t("2028-03-01T00:00:00Z")),
        vec![
            change("2025-03-01T00:00:00Z", 1),
            change("2028-02-29T00:00:00Z", 4)
        ]
    );
    assert_eq!(
        s.next_change_after(t("2024-03-01T00:00:00Z")),
        Some(change("2025-03-01T00:00:00Z", 1))
    );
    assert_eq!(
        s.next_change_after(t("2025-03-01T00:00:00Z")),
        Some(change("2028-02-29T00:00:00Z", 4))
    );
    let hours = s.dyno_hours(t("2025-02-28T00:00:00Z"), t("2025-03-02T00:00:00Z"));
    assert_eq!(hours, 24.0 * 4.0 + 24.0);
}

#[test]
fn a_firing_at_the_edge_of_the_window_keeps_the_value() {
    // 2028-01-01 to 2029-01-01 is exactly 366 days: the old firing leaves as the new one comes.
    let s = schedule(&[("0 0 1 1 *", 5)], UTC, 1);
    assert!(
        s.changes(t("2028-01-01T00:00:00Z"), t("2029-06-01T00:00:00Z"))
            .is_empty()
    );
    assert_eq!(s.baseline_at(t("2029-01-01T00:00:00Z")), 5);
}

#[test]
fn no_rules_means_the_fallback_forever() {
    let s = Schedule::new(Vec::new(), UTC, 2);
    assert_eq!(s.baseline_at(t("2026-11-27T12:00:00Z")), 2);
    assert_eq!(s.next_change_after(t("2026-11-27T12:00:00Z")), None);
    assert_eq!(
        s.dyno_hours(t("2026-11-27T00:00:00Z"), t("2026-11-28T00:00:00Z")),
        48.0
    );
}

#[test]
fn sunday_is_0_7_and_sun() {
    // From Wednesday 2026-11-25, the next Sunday is the 29th.
    let from = t("2026-11-25T12:00:00Z");
    for cron in [
        "0 0 * * 0",
        "0 0 * * 7",
        "0 0 * * SUN",
        "0 0 * * sun",
        "0 0 * * 5-7",
    ] {
        let rule = Rule::new(cron, 1).unwrap();
        let expected = if cron.ends_with("5-7") {
            t("2026-11-27T00:00:00Z")
        } else {
            t("2026-11-29T00:00:00Z")
        };
        assert_eq!(rule.next_after(from, UTC), Some(expected), "{cron}");
    }
}

fn firings(cron: &str, from: &str, count: usize, timezone: Tz) -> Vec<String> {
    let rule = Rule::new(cron, 1).unwrap();
    let mut at = t(from);
    let mut out = Vec::new();
    for _ in 0..count {
        at = rule.next_after(at, timezone).unwrap();
        out.push(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    out
}

#[test]
fn day_of_month_or_day_of_week() {
    // Fridays, and the 13th whatever its weekday (2026-12-13 is a Sunday).
    assert_eq!(
        firings("0 6 13 * FRI", "2026-11-01T00:00:00Z", 7, UTC),
        [
            "2026-11-06T06:00:00Z",
            "2026-11-13T06:00:00Z",
            "2026-11-20T06:00:00Z",
            "2026-11-27T06:00:00Z",
            "2026-12-04T06:00:00Z",
            "2026-12-11T06:00:00Z",
            "2026-12-13T06:00:00Z",
        ]
    );
    // A stepped day-of-month is restricted too: odd days, or Mondays (2026-11-02, -16).
    assert_eq!(
        firings("0 0 */2 * MON", "2026-11-01T12:00:00Z", 4, UTC),
        [
            "2026-11-02T00:00:00Z",
            "2026-11-03T00:00:00Z",
            "2026-11-05T00:00:00Z",
            "2026-11-07T00:00:00Z",
        ]
    );
    // With day-of-week `*`, only day-of-month counts.
    assert_eq!(
        firings("0 0 13 * *", "2026-11-01T00:00:00Z", 2, UTC),
        ["2026-11-13T00:00:00Z", "2026-12-13T00:00:00Z"]
    );
}

#[test]
fn month_and_day_names_in_any_case() {
    for (named, numeric) in [
        ("0 0 1 JAN *", "0 0 1 1 *"),
        ("0 0 1 jan-mar *", "0 0 1 1-3 *"),
        ("0 9 * * MON-FRI", "0 9 * * 1-5"),
        ("0 9 * DEC fri", "0 9 * 12 5"),
    ] {
        assert_eq!(
            firings(named, "2026-11-27T12:00:00Z", 5, UTC),
            firings(numeric, "2026-11-27T12:00:00Z", 5, UTC),
            "{named}"
        );
    }
}

#[test]
fn steps_and_ranges() {
    assert_eq!(
        firings("*/15 * * * *", "2026-11-27T10:07:00Z", 3, UTC),
        [
            "2026-11-27T10:15:00Z",
            "2026-11-27T10:30:00Z",
            "2026-11-27T10:45:00Z"
        ]
    );
    assert_eq!(
        firings("10-50/20 * * * *", "2026-11-27T10:00:00Z", 4, UTC),
        [
            "2026-11-27T10:10:00Z",
            "2026-11-27T10:30:00Z",
            "2026-11-27T10:50:00Z",
            "2026-11-27T11:10:00Z",
        ]
    );
    // Friday 17:00, then Monday 09:00.
    assert_eq!(
        firings("0 9-17 * * 1-5", "2026-11-27T16:30:00Z", 2, UTC),
        ["2026-11-27T17:00:00Z", "2026-11-30T09:00:00Z"]
    );
}

#[test]
fn last_firing_includes_the_current_minute() {
    let rule = Rule::new("0 7 * * *", 1).unwrap();
    for at in ["2026-11-27T07:00:00Z", "2026-11-27T07:00:30.5Z"] {
        assert_eq!(
            rule.last_at_or_before(t(at), UTC),
            Some(t("2026-11-27T07:00:00Z"))
        );
    }
    assert_eq!(
        rule.last_at_or_before(t("2026-11-27T06:59:59.9Z"), UTC),
        Some(t("2026-11-26T07:00:00Z"))
    );
    assert_eq!(
        rule.next_after(t("2026-11-27T07:00:00Z"), UTC),
        Some(t("2026-11-28T07:00:00Z"))
    );
    assert_eq!(
        rule.next_after(t("2026-11-27T06:59:59.9Z"), UTC),
        Some(t("2026-11-27T07:00:00Z"))
    );
}

#[test]
fn errors_say_what_is_expected() {
    let err = Rule::new("0 3 * *", 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`0 3 * *` has 4 fields; expected 5: minute hour day-of-month month day-of-week"
    );
    assert!(matches!(
        Rule::new("0 0 3 * * *", 1),
        Err(Error::FieldCount { found: 6, .. })
    ));
    assert!(matches!(
        Rule::new("", 1),
        Err(Error::FieldCount { found: 0, .. })
    ));

    let err = Rule::new("60 * * * *", 1).unwrap_err();
    assert!(matches!(err, Error::InvalidCron { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("`60 * * * *` is not a valid cron expression"),
        "{err}"
    );

    for refused in ["0/20 * * * *", "0 0 * * +MON", "0 0 * * XYZ", "@reboot"] {
        assert!(
            matches!(Rule::new(refused, 1), Err(Error::InvalidCron { .. })),
            "{refused}"
        );
    }

    let err = Rule::new("0 0 30 2 *", 1).unwrap_err();
    assert_eq!(
        err,
        Error::NeverFires {
            expr: "0 0 30 2 *".to_owned()
        }
    );
    assert!(err.to_string().contains("never fires"));
}

#[test]
fn schedule_errors_name_every_bad_rule_by_index() {
    let errors = Schedule::parse(
        [
            ("0 7 * * *", 3),
            ("0 3 * *", 1),
            ("0 22 * * *", 2),
            ("0 25 * * *", 1),
        ],
        UTC,
        1,
    )
    .unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(
        messages[0],
        "rule 1: `0 3 * *` has 4 fields; expected 5: minute hour day-of-month month day-of-week"
    );
    assert!(
        messages[1].starts_with("rule 3: `0 25 * * *` is not a valid"),
        "{}",
        messages[1]
    );
}

#[test]
fn rules_keep_their_text_and_quantity() {
    let rule = Rule::new("0 7 * * MON-FRI", 4).unwrap();
    assert_eq!(rule.cron(), "0 7 * * MON-FRI");
    assert_eq!(rule.quantity(), 4);
    let s = Schedule::new(vec![rule], New_York, 1);
    assert_eq!(s.rules().len(), 1);
    assert_eq!(s.timezone(), New_York);
    assert_eq!(s.fallback(), 1);
}

#[test]
fn a_change_serializes_as_rfc3339_utc() {
    let json = serde_json::to_string(&change("2026-11-27T07:00:00Z", 3)).unwrap();
    assert_eq!(json, r#"{"at":"2026-11-27T07:00:00Z","quantity":3}"#);
}

/// A ten-rule schedule in a daylight-saving zone; every sampled instant's baseline must be what
/// replaying `changes` gives, and `next_change_after` must agree with `changes`.
#[test]
fn changes_agree_with_baseline_at_every_sampled_instant() {
    let s = schedule(
        &[
            ("0 7 * * MON-FRI", 4),
            ("30 9 * * MON-FRI", 5),
            ("0 12 * * *", 3),
            ("*/45 13-15 * * *", 4),
            ("0 18 * * 1-5", 3),
            ("0 22 * * *", 2),
            ("30 2 * * *", 1),
            ("0 9 * * SAT,SUN", 2),
            ("0 0 24 12 *", 1),
            ("0 0 1 1 *", 6),
        ],
        New_York,
        1,
    );
    // Across the autumn change, Christmas and New Year.
    for (from, days) in [("2026-10-28T00:00:00Z", 7), ("2026-12-22T00:00:00Z", 14)] {
        let from = t(from);
        let to = from + TimeDelta::days(days);
        let changes = s.changes(from, to);
        assert!(
            changes
                .windows(2)
                .all(|w| w[0].at < w[1].at && w[0].quantity != w[1].quantity)
        );
        let mut value = s.baseline_at(from);
        let mut pending = changes.iter().peekable();
        let mut at = from;
        while at <= to {
            while let Some(c) = pending.next_if(|c| c.at <= at) {
                value = c.quantity;
            }
            assert_eq!(s.baseline_at(at), value, "at {at}");
            at += TimeDelta::minutes(7);
        }
        let mut cursor = from;
        for c in &changes {
            assert_eq!(s.next_change_after(cursor), Some(*c));
            cursor = c.at;
        }
        // Each change is a real change of value.
        for c in &changes {
            assert_ne!(
                s.baseline_at(c.at - TimeDelta::seconds(1)),
                c.quantity,
                "{c:?}"
            );
            assert_eq!(s.baseline_at(c.at), c.quantity, "{c:?}");
        }
    }
}

#[test]
fn a_rule_always_overridden_by_a_later_one_never_sets_the_baseline() {
    let s = schedule(&[("* * * * *", 3), ("* * * * *", 2)], UTC, 1);
    assert_eq!(s.baseline_at(t("2026-11-27T12:00:30Z")), 2);
    assert_eq!(s.next_change_after(t("2026-11-27T12:00:00Z")), None);

    let s = schedule(
        &[("*/5 * * * *", 3), ("* * * * *", 2), ("0 12 * * SAT", 4)],
        UTC,
        1,
    );
    assert_eq!(
        s.changes(t("2026-11-27T00:00:00Z"), t("2026-11-30T00:00:00Z")),
        vec![
            change("2026-11-28T12:00:00Z", 4),
            change("2026-11-28T12:01:00Z", 2)
        ]
    );
}

#[test]
fn a_frequent_rule_overridden_only_on_weekdays_wins_at_the_weekend() {
    // Friday 2026-11-27: the every-minute weekday rule overrides the five-minute one until the
    // weekend, and again from Monday.
    let s = schedule(&[("*/5 * * * *", 3), ("* * * * MON-FRI", 2)], UTC, 1);
    assert_eq!(s.baseline_at(t("2026-11-27T12:00:00Z")), 2);
    assert_eq!(s.baseline_at(t("2026-11-28T12:00:00Z")), 3);
    assert_eq!(
        s.changes(t("2026-11-27T12:00:00Z"), t("2026-12-01T00:00:00Z")),
        vec![
            change("2026-11-28T00:00:00Z", 3),
            change("2026-11-30T00:00:00Z", 2)
        ]
    );
}
