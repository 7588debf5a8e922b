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
    // At its own speed, 1800x, from 13:00: the page serves until the next day's 13:00, 48 s after
    // the start, and the browser reads it after the sixth hour: a faster day leaves a loaded
    // machine's browser too little time.
    let daemon = Daemon::spawn(
        BIN,
        &["demo", "--listen", "127.0.0.1:0", "--start", "13:00"],
    );
    let url = page_url(&daemon).await;

    // Wait for six simulated hours (12 s at 1800x): the burst at 15:00 and the bad deploy of
    // 18:30 to 18:45, whose every request fails whatever the dynos (the
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
        probes >= 150.0,
        "six simulated hours at a probe a minute, less a loaded machine's late ones: {probes}\n{metrics}"
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
    // Six hours in 5-minute intervals is 72; 28 leaves room for a loaded machine, where probes
    // come late, and for down probes, which have no latency to chart.
    assert!(latency >= 28, "latency chart has {latency} points");
    assert!(dynos >= 28, "dyno chart has {dynos} points");
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

/// Runs `autoscaled --config CONFIG ARGS...` beside the daemon, to its end.
async fn cli(config: &Path, args: &[&str]) -> testkit::Finished {
    let mut argv = vec!["--config", config.to_str().unwrap()];
    argv.extend_from_slice(args);
    Daemon::spawn(BIN, &argv)
        .finish(Duration::from_secs(30))
        .await
}

/// The overrides and pauses running or coming, as `autoscaled override list --json` reads them
/// from the state database.
async fn stored(config: &Path) -> Vec<serde_json::Value> {
    let listed = cli(config, &["override", "list", "--json"]).await;
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    listed["overrides"].as_array().unwrap().clone()
}

/// Polls `/api/status` until `done` holds for the app's overrides; returns them.
async fn overrides_until(
    client: &reqwest::Client,
    url: &str,
    what: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status: serde_json::Value = client
            .get(format!("{url}api/status"))
            .basic_auth("ops", Some(PAGE_PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let shown = status["apps"][0]["overrides"].as_array().unwrap().clone();
        if done(&shown) {
            return shown;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/api/status never showed {what}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fills the card's form as a person would and clicks Add.
const FILL: &str = r#"(fields) => {
  const details = document.querySelector("details.edit");
  details.open = true;
  const form = details.querySelector("form");
  for (const [name, value] of Object.entries(fields)) {
    form.elements.namedItem(name).value = value;
    form.elements.namedItem(name).dispatchEvent(new Event("change"));
  }
  form.querySelector("button[type=submit]").click();
  return true;
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_form_adds_and_ends_an_override_and_refuses_strangers() {
    use base64::Engine as _;
    let app = "e2e-form";
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(app, "web", 1);
    let config = write_config(&fake.url(), &[AppConfig::new(app)], &Alerts::default());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text += &format!("\n[http]\nlisten = \"127.0.0.1:0\"\npassword = \"{PAGE_PASSWORD}\"\n");
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::run(BIN, &config);
    let url = page_url(&daemon).await;
    daemon
        .wait_for_line(&["started", app], Duration::from_secs(30))
        .await;

    // Refused: no password, another origin, a form's encoding, values the CLI refuses.
    let client = reqwest::Client::new();
    let post = format!("{url}api/overrides");
    let launch = serde_json::json!({"app": app, "quantity": 2, "for": "2h"});
    let anonymous = client.post(&post).json(&launch).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let elsewhere = client
        .post(&post)
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .header("origin", "https://evil.example")
        .json(&launch)
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403);
    let form = client
        .post(&post)
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("app={app}&quantity=2&for=2h"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let bad = client
        .post(&post)
        .basic_auth("ops", Some(PAGE_PASSWORD))
        .json(&serde_json::json!({"app": app, "quantity": 9, "from": "2999-03-06T13:00:00Z", "until": "2999-03-06T12:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let problems: serde_json::Value = bad.json().await.unwrap();
    let by_cli = cli(
        &config,
        &[
            "override",
            "add",
            app,
            "--quantity",
            "9",
            "--from",
            "2999-03-06T13:00:00Z",
            "--until",
            "2999-03-06T12:00:00Z",
        ],
    )
    .await;
    assert_eq!(by_cli.status.code(), Some(2), "{by_cli:?}");
    let problems: Vec<&str> = problems["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    for problem in &problems {
        assert!(
            by_cli.stderr.contains(problem),
            "the CLI says it too: {problem}\n{}",
            by_cli.stderr
        );
    }
    assert!(
        stored(&config).await.is_empty(),
        "nothing refused reached the store"
    );

    // The form, in Chromium: a value refused and shown, then an override added and ended.
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("ops:{PAGE_PASSWORD}"));
    let mut browser = super::browser::Browser::start(
        &serde_json::json!({ "Authorization": format!("Basic {credentials}") }),
    );
    browser.open(&url);
    browser
        .wait_for(
            "the form",
            "document.querySelector('details.edit form') !== null",
        )
        .await;
    browser.eval(&format!(
        "({FILL})({{kind: 'override', quantity: '9', for: '2h', reason: 'too many'}})"
    ));
    let shown = browser
        .wait_for(
            "the problem under the form",
            "document.querySelector('details.edit .problems').innerText",
        )
        .await;
    assert!(
        shown
            .as_str()
            .unwrap()
            .contains("--quantity 9 is outside [1, 3] (the config's min and max)"),
        "{shown}"
    );
    // A redraw (here the 7-day button's) keeps what is being typed, and the focus.
    let before = browser.eval(
        "const reason = document.querySelector('details.edit form').elements.namedItem('reason'); \
         reason.focus(); reason.value = 'half-typed'; \
         document.querySelector('#span button[data-span=\"7d\"]').click(); \
         Number(document.body.dataset.refreshes)",
    );
    browser
        .wait_for(
            "a redraw",
            &format!("Number(document.body.dataset.refreshes) > {before}"),
        )
        .await;
    assert_eq!(
        browser.eval(
            "[document.activeElement.name, document.activeElement.value, document.querySelector('details.edit').open].join()"
        ),
        "reason,half-typed,true"
    );
    browser.eval(&format!(
        "({FILL})({{kind: 'override', quantity: '2', for: '2h', reason: 'launch from the page', by: 'ada'}})"
    ));
    // Shown once running: a status read that began while the page's request was being recorded
    // answers as of its own start, when the override was still to come.
    let shown = overrides_until(&client, &url, "the page's override, running", |o| {
        o.iter().any(|o| o["active"] == true)
    })
    .await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    let added = &shown[0];
    assert_eq!(
        (
            &added["kind"],
            &added["quantity"],
            &added["by"],
            &added["reason"],
            &added["active"]
        ),
        (
            &"override".into(),
            &2.into(),
            &"ada".into(),
            &"launch from the page".into(),
            &true.into()
        )
    );
    let id = added["id"].as_i64().unwrap();
    let in_store = stored(&config).await;
    assert_eq!(in_store.len(), 1, "{in_store:?}");
    assert_eq!(
        (&in_store[0]["id"], &in_store[0]["by"], &in_store[0]["app"]),
        (&id.into(), &"ada".into(), &app.into())
    );
    browser
        .wait_for(
            "the override with its End button",
            &format!("document.querySelector('li.override[data-id=\"{id}\"] button.end') !== null"),
        )
        .await;
    let path = screenshots().join("status-page-form.png");
    std::fs::write(&path, browser.screenshot()).unwrap();
    println!("screenshot: {}", path.display());

    browser.eval(&format!(
        "document.querySelector('li.override[data-id=\"{id}\"] button.end').click(), true"
    ));
    overrides_until(&client, &url, "the override ended", <[_]>::is_empty).await;
    assert!(stored(&config).await.is_empty(), "ended in the store");
    browser
        .wait_for(
            "the card without it",
            "document.querySelector('li.override') === null && document.querySelector('details.edit') !== null",
        )
        .await;

    // A pause of this process type, until resumed, then its Resume button.
    browser.eval(&format!(
        "({FILL})({{kind: 'pause', for: '', reason: 'migration'}})"
    ));
    let shown = overrides_until(&client, &url, "the page's pause", |o| !o.is_empty()).await;
    assert_eq!(
        (
            &shown[0]["kind"],
            &shown[0]["until"],
            &shown[0]["by"],
            &shown[0]["reason"]
        ),
        (
            &"pause".into(),
            &serde_json::Value::Null,
            &"ada".into(),
            &"migration".into()
        )
    );
    let id = shown[0]["id"].as_i64().unwrap();
    let resume = format!("document.querySelector('li.override[data-id=\"{id}\"] button.end')");
    let label = browser
        .wait_for("the Resume button", &format!("{resume}?.textContent"))
        .await;
    assert_eq!(label, "Resume");
    browser.eval(&format!("{resume}.click(), true"));
    overrides_until(&client, &url, "the pause ended", <[_]>::is_empty).await;
    assert!(stored(&config).await.is_empty(), "resumed in the store");
    drop(browser);
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    assert!(!finished.stdout.contains(PAGE_PASSWORD) && !finished.stderr.contains(PAGE_PASSWORD));
}
