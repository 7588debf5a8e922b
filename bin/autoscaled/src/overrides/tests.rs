use clap::Parser as _;

use super::*;
use crate::cli::{Cli, Command};

const CONFIG: &str = r#"
[heroku]
api_key = "01234567-89ab-4cde-8f01-23456789abcd"

[[apps]]
name = "shop"
min = 1
max = 10
schedule = [{ cron = "0 7 * * *", quantity = 2 }]

[[apps]]
name = "shop"
process = "worker"
min = 0
max = 4
schedule = [{ cron = "0 7 * * *", quantity = 1 }]

[[apps]]
name = "blog"
min = 1
max = 2
schedule = [{ cron = "0 7 * * *", quantity = 1 }]
"#;

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("autoscaled.toml");
    std::fs::write(&path, CONFIG).unwrap();
    Config::load_with_env(&path, []).unwrap()
}

/// A fixed "now", so no verdict depends on today's date.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-06T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn add(argv: &str) -> Result<NewOverride, Vec<String>> {
    let argv = format!("autoscaled override add {argv}");
    match Cli::try_parse_from(argv.split_whitespace())
        .unwrap()
        .command
    {
        Some(Command::Override(OverrideCommand::Add(args))) => {
            validate_override(&config(), &args, now(), "ada")
        }
        other => panic!("parsed as {other:?}"),
    }
}

fn pause(argv: &str) -> Result<Vec<NewOverride>, Vec<String>> {
    let argv = format!("autoscaled pause {argv}");
    match Cli::try_parse_from(argv.split_whitespace())
        .unwrap()
        .command
    {
        Some(Command::Pause(args)) => validate_pause(&config(), &args, now(), "ada"),
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn an_override_from_now_for_three_hours_is_recorded_with_who_and_why() {
    let added = add("blog --for 3h --quantity 2 --reason launch").unwrap();
    assert_eq!(added.key, ProcessKey::new("blog", "web"));
    assert_eq!(
        (added.from, added.until),
        (now(), Some(now() + TimeDelta::hours(3)))
    );
    assert_eq!(
        added.action,
        OverrideAction::Set {
            quantity: Some(2),
            min: None,
            max: None
        }
    );
    assert_eq!(
        (added.by.as_str(), added.reason.as_str(), added.created_at),
        ("ada", "launch", now())
    );
    let by = add("blog --for 1h --max 1 --by grace").unwrap();
    assert_eq!(by.by, "grace");
}

#[test]
fn a_quantity_beyond_the_config_bounds_needs_the_bounds_moved_too() {
    assert_eq!(
        add("blog --for 1h --quantity 5").unwrap_err(),
        [
            "--quantity 5 is outside [1, 2] (the config's min and max): set --min or --max too to move the bounds"
        ]
    );
    let moved = add("blog --for 1h --quantity 5 --max 6").unwrap();
    assert_eq!(
        moved.action,
        OverrideAction::Set {
            quantity: Some(5),
            min: None,
            max: Some(6)
        }
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let problems =
        add("nowhere --from 2026-03-06T13:00:00Z --until 2026-03-06T12:30:00Z").unwrap_err();
    assert_eq!(
        problems,
        [
            "app \"nowhere\" is not in the config (it has shop, blog)",
            "--until 2026-03-06T12:30:00Z is not after --from 2026-03-06T13:00:00Z: expected a later end",
            "an override needs --quantity, --min or --max",
        ]
    );
    assert_eq!(
        add("shop --process api --until 2026-03-06T11:00:00Z --quantity 2").unwrap_err(),
        [
            "process type \"api\" of app \"shop\" is not in the config (it has web, worker)",
            "--until 2026-03-06T11:00:00Z is in the past (now is 2026-03-06T12:00:00Z)",
        ]
    );
    assert_eq!(
        add("shop --quantity 2").unwrap_err(),
        [
            "app \"shop\" has several process types (web, worker): say which with --process",
            "an override needs an end: --until TIME or --for 3h",
        ]
    );
    assert_eq!(
        add("shop --process web --for 1h --min 5 --max 3").unwrap_err(),
        ["--min 5 is above --max 3 (with the config's for the one not given)"]
    );
}

#[test]
fn a_pause_needs_a_reason_and_covers_every_process_type_unless_told() {
    assert_eq!(
        pause("shop --for 2h").unwrap_err(),
        ["a pause needs a reason: --reason TEXT"]
    );
    let pauses = pause("shop --reason migration").unwrap();
    assert_eq!(
        pauses
            .iter()
            .map(|p| (p.key.process.as_str(), p.until))
            .collect::<Vec<_>>(),
        [("web", None), ("worker", None)]
    );
    let one = pause("shop --process worker --for 2h --reason migration").unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].until, Some(now() + TimeDelta::hours(2)));
    assert_eq!(one[0].action, OverrideAction::Pause);
}

#[test]
fn a_record_reads_as_one_line_and_as_json() {
    let record = Override {
        id: 7,
        spec: add("blog --from 2026-03-06T13:00:00Z --for 2h --max 1 --reason quiet").unwrap(),
        ended_at: None,
    };
    assert_eq!(
        describe(&record, now()),
        "#7 override blog web: max 1 from 2026-03-06T13:00:00Z until 2026-03-06T15:00:00Z (coming; by ada: quiet)"
    );
    let json = to_json(&record, now());
    assert_eq!(json["kind"], "override");
    assert_eq!(json["max"], 1);
    assert_eq!(json["quantity"], serde_json::Value::Null);
    assert_eq!(json["active"], false);
}

/// What `POST /api/overrides` hands the rules, from a JSON body.
fn request(body: serde_json::Value) -> status::OverrideRequest {
    serde_json::from_value(body).unwrap()
}

#[test]
fn the_page_gets_the_clis_messages_for_the_same_request() {
    use status::Rules as _;
    let rules = PageRules::new(config());
    let from_page = |body| rules.check_override(&request(body), now());
    assert_eq!(
        from_page(json!({"app": "nowhere", "from": "2026-03-06T13:00:00Z", "until": "2026-03-06T12:30:00Z"}))
            .unwrap_err(),
        add("nowhere --from 2026-03-06T13:00:00Z --until 2026-03-06T12:30:00Z").unwrap_err()
    );
    assert_eq!(
        from_page(json!({"app": "blog", "for": "1h", "quantity": 5})).unwrap_err(),
        add("blog --for 1h --quantity 5").unwrap_err()
    );
    assert_eq!(
        from_page(json!({"app": "shop", "quantity": 2})).unwrap_err(),
        add("shop --quantity 2").unwrap_err()
    );
    // Accepted alike, recorded as the page's unless it says who.
    let added =
        from_page(json!({"app": "blog", "for": "3h", "quantity": 2, "reason": "launch"})).unwrap();
    let by_cli = add("blog --for 3h --quantity 2 --reason launch --by page").unwrap();
    assert_eq!(added, by_cli);
    let by = from_page(json!({"app": "blog", "for": "1h", "max": 1, "by": "grace"})).unwrap();
    assert_eq!(by.by, "grace");

    let pause = |body| rules.check_pause(&serde_json::from_value(body).unwrap(), now());
    assert_eq!(
        pause(json!({"app": "shop", "for": "2h"})).unwrap_err(),
        ["a pause needs a reason: --reason TEXT"]
    );
    assert_eq!(
        pause(json!({"app": "shop", "reason": "migration"})).unwrap(),
        pause_of("shop --reason migration --by page")
    );
}

fn pause_of(argv: &str) -> Vec<NewOverride> {
    pause(argv).unwrap()
}

#[test]
fn what_does_not_parse_on_the_page_is_said_as_clap_says_it() {
    use status::Rules as _;
    let rules = PageRules::new(config());
    let problems = rules
        .check_override(
            &request(json!({"app": "nowhere", "until": "friday", "quantity": 2})),
            now(),
        )
        .unwrap_err();
    assert_eq!(
        problems,
        [
            format!(
                "invalid value 'friday' for '--until <RFC3339>': {}",
                crate::cli::parse_instant("friday").unwrap_err()
            ),
            "app \"nowhere\" is not in the config (it has shop, blog)".into(),
        ],
        "the end given but unreadable is not also missing"
    );
    let problems = rules
        .check_override(
            &request(json!({"app": "blog", "for": "3 weeks-ish", "until": "2026-03-06T13:00:00Z", "max": 1})),
            now(),
        )
        .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("invalid value '3 weeks-ish' for '--for <DURATION>': "));
    assert_eq!(
        problems[1],
        "the argument '--until <RFC3339>' cannot be used with '--for <DURATION>'"
    );
    let pause = rules
        .check_pause(
            &serde_json::from_value(json!({"app": "blog", "from": "now", "reason": "x"})).unwrap(),
            now(),
        )
        .unwrap_err();
    assert_eq!(pause.len(), 1);
    assert!(pause[0].starts_with("invalid value 'now' for '--from <RFC3339>'"));
}

proptest::proptest! {
    /// Whatever a page's request holds, the rules answer: a record, or at least one problem.
    #[test]
    fn any_request_from_the_page_is_judged_without_panicking(
        app in "\\PC{0,12}|shop|blog",
        from in proptest::option::of("\\PC{0,30}|2026-03-06T1[0-9]:00:00Z"),
        until in proptest::option::of("\\PC{0,30}|2026-03-06T1[0-9]:00:00Z"),
        for_ in proptest::option::of("\\PC{0,8}|[0-9]{1,3}[hms]"),
        quantity in proptest::option::of(proptest::prelude::any::<u32>()),
        max in proptest::option::of(0u32..20),
        reason in proptest::option::of("\\PC{0,20}"),
    ) {
        use status::Rules as _;
        let rules = PageRules::new(config());
        let request = status::OverrideRequest {
            app: app.clone(),
            from: from.clone(),
            until: until.clone(),
            for_: for_.clone(),
            quantity,
            max,
            reason: reason.clone(),
            ..status::OverrideRequest::default()
        };
        if let Err(problems) = rules.check_override(&request, now()) {
            proptest::prop_assert!(!problems.is_empty());
        }
        let pause = status::PauseRequest { app, from, until, for_, reason, ..status::PauseRequest::default() };
        match rules.check_pause(&pause, now()) {
            Ok(pauses) => proptest::prop_assert!(!pauses.is_empty()),
            Err(problems) => proptest::prop_assert!(!problems.is_empty()),
        }
    }
}
