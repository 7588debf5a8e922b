use serde_json::json;

use super::*;

fn app(name: &str, process: &str) -> AppSettings {
    let app = json!({ "name": name, "process": process, "min": 1, "max": 4 });
    let tree = json!({ "heroku": { "api_key": "k-0123456789" }, "apps": [app] });
    Config::from_tree(&tree).unwrap().apps.remove(0)
}

#[test]
fn an_app_is_chosen_by_name_or_name_and_process() {
    let apps = [app("shop", "web"), app("shop", "worker")];
    assert_eq!(
        choose_app(&apps, Some("shop:worker")).unwrap().process,
        "worker"
    );
    assert!(matches!(
        choose_app(&apps, Some("shop")),
        Err(SimulateError::WhichApp { .. })
    ));
    assert!(matches!(
        choose_app(&apps, None),
        Err(SimulateError::WhichApp { .. })
    ));
    let error = choose_app(&apps, Some("nope")).unwrap_err().to_string();
    assert!(error.contains("shop:web, shop:worker"), "{error}");
    assert_eq!(choose_app(&apps[..1], None).unwrap().process, "web");
}

#[test]
fn a_bad_trace_is_refused_naming_the_file_and_line() {
    let path = std::env::temp_dir().join(format!("autoscaled-simulate-{}.csv", std::process::id()));
    std::fs::write(
        &path,
        "timestamp_utc,requests\n2026-11-27 00:00:00,4\n2026-11-27 00:01:00,-4\n",
    )
    .unwrap();
    let error = read_trace(&path, Trace::parse).unwrap_err().to_string();
    let _ = std::fs::remove_file(&path);
    assert!(
        error.contains(&format!("{}, line 3", path.display())) && error.contains("negative"),
        "{error}"
    );
    let missing = read_trace(Path::new("/nonexistent/trace.csv"), Trace::parse)
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/trace.csv"), "{missing}");
}

#[test]
fn the_simulator_gets_the_apps_rules_and_its_probes_limits() {
    let (simulated, model) = inputs_for(
        &app("shop", "web"),
        20.0,
        Duration::from_millis(100),
        Duration::from_secs(30),
        ServiceModel::PerDyno,
    );
    assert_eq!(simulated.probe_every, None);
    assert_eq!((simulated.policy.min, simulated.policy.max), (1, 4));
    assert_eq!(model.thresholds, DEFAULT_THRESHOLDS);
}

#[test]
fn a_worker_is_replayed_in_queue_mode_with_its_queues_settings() {
    let worker = json!({
        "name": "shop", "process": "worker", "min": 0, "max": 8,
        "queue": { "backend": "sidekiq", "url_env": "SHOP_REDIS_URL", "concurrency": 5, "latency": "1m" }
    });
    let tree = json!({ "heroku": { "api_key": "k-0123456789" }, "apps": [worker] });
    let app = Config::from_tree(&tree).unwrap().apps.remove(0);
    let (simulated, model) =
        queue_inputs_for(&app, Duration::from_secs(2), Duration::from_secs(30)).unwrap();
    assert_eq!(
        (model.concurrency, model.job_time),
        (5, Duration::from_secs(2))
    );
    assert_eq!(simulated.queue.latency, Duration::from_secs(60));
    assert_eq!((simulated.policy.min, simulated.policy.max), (0, 8));
    assert_eq!(simulated.reads, "sidekiq: every queue from $SHOP_REDIS_URL");
    assert!(
        queue_inputs_for(
            &self::app("shop", "web"),
            Duration::from_secs(2),
            Duration::from_secs(30)
        )
        .is_none()
    );
}
