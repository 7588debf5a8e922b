//! The status page, `/metrics`, `/api/*` and `/healthz`, served by the real binary: the demo's page
//! loaded in headless Chromium (both charts drawn, a screenshot saved), and `run` behind a password.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use heroku_fake::FakeHeroku;
use prometheus_parse::{Scrape, Value};

use super::harness::{API_KEY, Alerts, AppConfig, BIN, Daemon, assert_no_secret, write_config};

const PAGE_PASSWORD: &str = "page-e2e-pass-never-shown-3b8e";

/// The URL the daemon printed for its status page.
pub(super) async fn page_url(daemon: &Daemon) -> String {
    let line = daemon
        .wait_for_line(&["status page"], Duration::from_secs(20))
        .await;
    let start = line
        .find("http://")
        .unwrap_or_else(|| panic!("no URL in {line:?}"));
    line[start..].split_whitespace().next().unwrap().to_owned()
}

/// The JSON a successful GET of `url` answers.
pub(super) async fn json(url: &str) -> serde_json::Value {
    reqwest::get(url)
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Chromium from the distribution (`apt-get install -y chromium`), or `$CHROMIUM`.
pub(super) fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output();
        if let Some(out) = found.ok().filter(|o| o.status.success()) {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "the status page test needs a headless browser and found none: install Chromium \
         (`apt-get install -y chromium` on Debian) or point $CHROMIUM at one"
    );
}

/// Runs headless Chromium on `url` with a fresh profile and `extra` arguments; returns stdout.
pub(super) fn headless(url: &str, extra: &[&str]) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "chromium-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The `data-points` of the chart `name` in the dumped DOM.
fn points(dom: &str, name: &str) -> usize {
    let tag = format!("data-chart=\"{name}\" data-points=\"");
    let at = dom
        .find(&tag)
        .unwrap_or_else(|| panic!("no {name} chart in the page:\n{dom}"));
    let rest = &dom[at + tag.len()..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

fn screenshots() -> PathBuf {
    // CARGO_TARGET_TMPDIR is target/tmp: the pictures go beside it, in target/screenshots.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_draws_both_charts_in_a_real_browser() {
    let _alone = super::harness::HEAVY.lock().await;
    let browser = chromium();
    // At its own speed, 1800x: its day, and its page, end 48 s after the start, and the browser
    // reads the page after the thirteenth hour: a faster day leaves a loaded machine's browser
    // too little time.
    let daemon = Daemon::spawn(BIN, &["demo", "--listen", "127.0.0.1:0"]);
    let url = page_url(&daemon).await;

    // Wait for thirteen simulated hours (26 s at 1800x): the step-out at 10:00, the burst at 15:00
    // and the bad deploy of 18:30 to 18:45, whose every request fails whatever the dynos (the
    // burst's down probes depend on how fast the traffic rules answer it, so on this machine's
    // speed: the page is not asked to show them).
    let status_url = format!("{url}api/status");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = json(&status_url).await;
        if status["now"]
            .as_str()
            .is_some_and(|now| &now[11..16] >= "19:00")
        {
            assert_eq!(status["simulated"], true);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the demo's clock stalled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let health = reqwest::get(format!("{url}healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(format!("{url}metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = Scrape::parse(metrics.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let probes: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "autoscaled_probes_total")
        .map(|s| match s.value {
            Value::Counter(v) => v,
            _ => 0.0,
        })
        .sum();
    assert!(
        probes >= 300.0,
        "ten simulated hours at a probe a minute: {probes}\n{metrics}"
    );
    let ok_calls = scrape.samples.iter().find(|s| {
        s.metric == "autoscaled_scale_calls_total" && s.labels.get("outcome") == Some("ok")
    });
    assert!(
        matches!(ok_calls.map(|s| &s.value), Some(Value::Counter(n)) if *n >= 3.0),
        "{metrics}"
    );

    // The DOM and both screenshots at once: the browser's start-up, not the page, is most of
    // each, and the page lasts only until the end of the demo's day.
    let dir = screenshots();
    let (dom, shots) = std::thread::scope(|scope| {
        let shots: Vec<_> = [
            ("status-page.png", "1280,1000"),
            ("status-page-phone.png", "390,1600"),
        ]
        .into_iter()
        .map(|(name, size)| {
            let (url, path) = (&url, dir.join(name));
            scope.spawn(move || {
                let _ = std::fs::remove_file(&path);
                headless(
                    url,
                    &[
                        &format!("--screenshot={}", path.display()),
                        &format!("--window-size={size}"),
                    ],
                );
                path
            })
        })
        .collect();
        let dom = headless(&url, &["--dump-dom"]);
        let shots: Vec<_> = shots.into_iter().map(|s| s.join().unwrap()).collect();
        (dom, shots)
    });
    let (latency, dynos) = (points(&dom, "latency"), points(&dom, "dynos"));
    println!("demo: {probes} probes, {latency} latency points, {dynos} dyno points");
    // Thirteen hours in 5-minute intervals is 156; 60 leaves room for a loaded machine, where
    // probes come late, and for down probes, which have no latency to chart.
    assert!(latency >= 60, "latency chart has {latency} points");
    assert!(dynos >= 60, "dyno chart has {dynos} points");
    assert!(
        dom.contains("class=\"marker scale\""),
        "scale events are marked"
    );
    assert!(
        dom.contains("class=\"outage\""),
        "the bad deploy's down probes are shaded"
    );
    assert!(dom.contains("Next schedule changes") && dom.contains("Cost today"));
    assert!(dom.contains("(simulated time)"));

    for path in shots {
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(bytes > 20_000, "{} is {bytes} bytes", path.display());
        println!("screenshot: {}", path.display());
    }
    println!("browser: {}", browser.display());
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_the_page_behind_its_password_and_shows_no_secret() {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation("e2e-page", "web", 1);
    let config = write_config(
        &fake.url(),
        &[AppConfig::new("e2e-page")],
        &Alerts::default(),
    );
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!("\n[http]\nlisten = \"127.0.0.1:0\"\npassword = \"{PAGE_PASSWORD}\"\n");
    std::fs::write(&config, text).unwrap();

    let daemon = Daemon::run(BIN, &config);
    let url = page_url(&daemon).await;
    daemon
        .wait_for_line(&["started", "e2e-page"], Duration::from_secs(20))
        .await;
    let client = reqwest::Client::new();
    let health = client.get(format!("{url}healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "healthz needs no password once the app runs"
    );

    for path in ["", "page.js", "api/status", "api/history", "metrics"] {
        let denied = client.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(denied.status(), 401, "/{path} without the password");
        let allowed = client
            .get(format!("{url}{path}"))
            .basic_auth("ops", Some(PAGE_PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "/{path} with it");
        let body = allowed.text().await.unwrap();
        assert_no_secret(&format!("/{path}"), &body);
        assert!(
            !body.contains(PAGE_PASSWORD),
            "/{path} shows the page's password"
        );
    }
    let status: serde_json::Value = client
        .get(format!("{url}api/status"))
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["apps"][0]["app"], "e2e-page");
    assert_eq!(status["apps"][0]["actual"], 1);
    assert_eq!(status["simulated"], false);

    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    assert!(!finished.stdout.contains(PAGE_PASSWORD) && !finished.stderr.contains(PAGE_PASSWORD));
}
