//! `simulate --svg` and `--compare` on the repository's World Cup 1998 trace: the picture opened in
//! headless Chromium, the compared config's line and row, and bad input refused with nothing left
//! behind; and the queue mode of a worker with `[apps.queue]` (docs/simulate/worker.toml).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::harness::BIN;
use super::status_page::headless;

/// The repository's root, where the traces and the replay configs of docs/simulate.md are.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh folder for one test's files, under cargo's target/tmp: emptied when the test starts,
/// kept after it for a look at what it drew.
fn folder(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("simulate-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `autoscaled simulate` on two days of the World Cup trace (12 May 1998 and its burst), with the
/// probe rules of docs/simulate/worldcup98.toml at 20 requests/s a dyno, and `extra`.
fn simulate(extra: &[&str]) -> Output {
    let window = [
        "--from",
        "1998-05-12T00:00:00Z",
        "--to",
        "1998-05-14T00:00:00Z",
    ];
    simulate_over(&[&window[..], extra].concat())
}

/// `autoscaled simulate` on the World Cup trace as [`simulate`] replays it, over the window (or
/// not) that `args` gives.
fn simulate_over(args: &[&str]) -> Output {
    let repo = repo();
    Command::new(BIN)
        .arg("--config")
        .arg(repo.join("docs/simulate/worldcup98.toml"))
        .arg("simulate")
        .arg("--trace")
        .arg(repo.join("traces/worldcup98-requests-per-minute.csv"))
        .args(["--capacity", "20"])
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The RGB of each pixel of a PNG file.
fn pixels(path: &Path) -> Vec<[u8; 3]> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let channels = frame.color_type.samples();
    assert!(channels >= 3, "a colour screenshot: {:?}", frame.color_type);
    buffer[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// How many pixels are within `by` of `rgb` in each channel.
fn near(pixels: &[[u8; 3]], rgb: [u8; 3], by: u8) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().zip(rgb).all(|(&a, b)| a.abs_diff(b) <= by))
        .count()
}

#[test]
fn the_svg_of_a_two_day_replay_shows_in_chromium() {
    let dir = folder("chromium");
    let svg = dir.join("replay.svg");
    let out = simulate(&["--svg", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("autoscaled "),
        "the table still prints"
    );
    let bytes = std::fs::metadata(&svg).unwrap().len();
    assert!(bytes < 1_000_000, "{bytes} bytes");
    let url = format!("file://{}", svg.canonicalize().unwrap().display());

    // Loaded as an SVG document (a malformed one would show Chromium's XML error page instead).
    let dom = headless(&url, &["--dump-dom"]);
    assert!(!dom.contains("error on line"), "{dom}");
    for series in [
        "load",
        "capacity",
        "autoscaled",
        "clairvoyant",
        "schedule-only",
    ] {
        assert!(
            dom.contains(&format!("data-series=\"{series}\"")),
            "{series} in the DOM"
        );
    }
    assert!(dom.contains("Tue 12 May 1998 00:00 to Thu 14 May 1998 00:00 (UTC)"));
    assert!(!dom.contains("data-series=\"compare\""));

    let png = dir.join("replay.png");
    headless(
        &url,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,700",
        ],
    );
    let pixels = pixels(&png);
    assert_eq!(pixels.len(), 1200 * 700);
    // The card is white; the load line is the page's blue, autoscaled's the page's near-black,
    // the overloaded minutes of the burst the page's red at 18% over the slow minutes' orange at
    // 12% (247, 200, 192 on white): each covers some of the picture.
    let white = near(&pixels, [255, 255, 255], 0);
    let blue = near(&pixels, [0x25, 0x63, 0xeb], 24);
    let black = near(&pixels, [0x11, 0x18, 0x27], 24);
    let shaded = near(&pixels, [247, 200, 192], 8);
    assert!(white > pixels.len() / 3, "{white} white pixels");
    assert!(blue > 1_000, "{blue} pixels of the load line");
    assert!(black > 1_000, "{black} pixels of autoscaled's lines");
    assert!(shaded > 100, "{shaded} pixels of shaded overload");
    println!("screenshot: {}", png.display());
}

#[test]
fn compare_draws_a_second_dyno_line_and_prints_a_second_row() {
    let dir = folder("compare");
    let svg = dir.join("compare.svg");
    let other = repo().join("docs/simulate/worldcup98-traffic.toml");
    let out = simulate(&[
        "--svg",
        svg.to_str().unwrap(),
        "--compare",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let row = |label: &str| {
        table
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} row in:\n{table}"))
            .split_whitespace()
            .nth(label.split_whitespace().count())
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let (ours, theirs) = (row("autoscaled"), row("with worldcup98-traffic.toml"));
    assert_ne!(ours, theirs, "two configs, two figures:\n{table}");

    let picture = std::fs::read_to_string(&svg).unwrap();
    let line = |series: &str| {
        let tag = format!("data-series=\"{series}\" d=\"");
        let at = picture
            .find(&tag)
            .unwrap_or_else(|| panic!("no {series} line"));
        let rest = &picture[at + tag.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    };
    assert_ne!(line("autoscaled"), line("compare"), "two dyno lines");
    assert!(
        picture.contains("with worldcup98-traffic.toml"),
        "in the legend"
    );

    let out = simulate(&["--json", "--compare", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["dyno_hours"].as_f64(), Some(ours));
    assert_eq!(json["compare"]["dyno_hours"].as_f64(), Some(theirs));
    assert_eq!(json["compare"]["config"], other.to_str().unwrap());
}

#[test]
fn bad_input_exits_2_naming_the_problem_and_leaves_no_file() {
    let dir = folder("refused");
    let svg = dir.join("replay.svg");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[apps]]\nname = \"x\"\nmin = 5\nmax = 2\n").unwrap();
    let cases: [(&str, Vec<String>, &str); 4] = [
        (
            "an unwritable folder",
            vec!["--svg".into(), "/nonexistent-autoscaled/replay.svg".into()],
            "--svg /nonexistent-autoscaled/replay.svg",
        ),
        (
            "a folder as the file",
            vec!["--svg".into(), dir.display().to_string()],
            "--svg",
        ),
        (
            "an invalid config to compare",
            vec![
                "--svg".into(),
                svg.display().to_string(),
                "--compare".into(),
                bad.display().to_string(),
            ],
            &format!("--compare {}", bad.display()),
        ),
        (
            "a window with no rows",
            vec![
                "--svg".into(),
                svg.display().to_string(),
                "--from".into(),
                "2001-01-01T00:00:00Z".into(),
                "--to".into(),
                "2001-01-02T00:00:00Z".into(),
            ],
            "no rows",
        ),
    ];
    let parent = dir.parent().unwrap().to_owned();
    let temporary = format!(".{}.", dir.file_name().unwrap().to_string_lossy());
    for (i, (case, args, named)) in cases.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // The last case sets its own window.
        let out = if i + 1 == cases.len() {
            simulate_over(&args)
        } else {
            simulate(&args)
        };
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
        assert!(stderr.contains(named), "{case}: {stderr}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "bad.toml")
            .collect();
        assert!(left.is_empty(), "{case}: left {left:?}");
        let beside = std::fs::read_dir(&parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&temporary))
            .collect::<Vec<_>>();
        assert!(beside.is_empty(), "{case}: left {beside:?}");
    }
}

/// `autoscaled simulate` in queue mode: docs/simulate/worker.toml on the World Cup's 12 May 1998
/// read as jobs arriving (its requests trace, which queue mode accepts as jobs too), and `args`.
fn simulate_queue(args: &[&str]) -> Output {
    let repo = repo();
    Command::new(BIN)
        .arg("--config")
        .arg(repo.join("docs/simulate/worker.toml"))
        .arg("simulate")
        .arg("--trace")
        .arg(repo.join("traces/worldcup98-1998-05-12.csv"))
        .args(args)
        .output()
        .unwrap()
}

/// The World Cup's 12 May 1998 as the interface's jobs trace (`timestamp_utc,jobs`), in `dir`.
fn jobs_trace(dir: &Path) -> PathBuf {
    let requests =
        std::fs::read_to_string(repo().join("traces/worldcup98-1998-05-12.csv")).unwrap();
    let path = dir.join("jobs.csv");
    std::fs::write(
        &path,
        requests.replacen("timestamp_utc,requests", "timestamp_utc,jobs", 1),
    )
    .unwrap();
    path
}

#[test]
fn a_worker_is_replayed_in_queue_mode_beside_judoscale_and_hirefire_style_rules() {
    let out = simulate_queue(&["--job-time", "2s"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for line in [
        "worker-replay worker: 1998-05-12T00:00:00Z to 1998-05-13T00:00:00Z",
        "reads sidekiq: default from $REPLAY_REDIS_URL",
        "model: 2s a job, 10 jobs at once a dyno, 30s boot",
        "rules: min 0, max 600; latency target 30s, concurrency 10, poll 10s, calm 10m",
        "Judoscale-style (age checked every 10s, +1 over 30s at most every 3m, -1 after 10m under 15s)",
        "HireFire-style (every 1m, dynos = (ready + busy) / 150)",
        "  autoscaled ",
        "  Judoscale-style ",
        "  HireFire-style ",
        "  clairvoyant ",
    ] {
        assert!(table.contains(line), "{line} in:\n{table}");
    }

    // The interface's jobs trace, and its default job time of 1 s.
    let dir = folder("queue-json");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(repo().join("docs/simulate/worker.toml"))
        .arg("simulate")
        .arg("--jobs-trace")
        .arg(jobs_trace(&dir))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let late = |rule: &serde_json::Value| rule["late_minutes"].as_u64().unwrap();
    let ours = json["dyno_hours"].as_f64().unwrap();
    let clairvoyant = json["clairvoyant_dyno_hours"].as_f64().unwrap();
    assert!(clairvoyant > 0.0 && ours >= clairvoyant, "{json}");
    for rule in ["judoscale", "hirefire"] {
        assert!(json[rule]["dyno_hours"].as_f64().is_some(), "{json}");
        assert!(late(&json) < late(&json[rule]), "{rule}: {json}");
    }
    for key in ["app", "process", "minutes", "cost", "scale_calls"] {
        assert!(json.get(key).is_some(), "{key}: {json}");
    }
    assert_eq!(json["jobs"].as_u64(), Some(2_376_106), "{json}");
}

#[test]
fn queue_mode_draws_its_picture_gives_its_days_and_compares_a_second_worker() {
    let dir = folder("queue-svg");
    let svg = dir.join("queue.svg");
    let other = dir.join("worker-20.toml");
    let worker = std::fs::read_to_string(repo().join("docs/simulate/worker.toml")).unwrap();
    std::fs::write(
        &other,
        worker.replacen("concurrency = 10 ", "concurrency = 20 ", 1),
    )
    .unwrap();
    let out = simulate_queue(&[
        "--job-time",
        "2s",
        "--daily",
        "--svg",
        svg.to_str().unwrap(),
        "--compare",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for line in ["  with worker-20.toml ", "  1998-05-12    2376106 |"] {
        assert!(table.contains(line), "{line} in:\n{table}");
    }
    // Loaded as an SVG document by Chromium (a malformed one shows its XML error page instead),
    // every way's line in it, and on screen the comparison rules' orange and teal lines and the
    // age's dashed red target.
    let url = format!("file://{}", svg.canonicalize().unwrap().display());
    let dom = headless(&url, &["--dump-dom"]);
    assert!(!dom.contains("error on line"), "{dom}");
    for series in [
        "autoscaled",
        "compare",
        "clairvoyant",
        "judoscale",
        "hirefire",
        "age",
        "target",
    ] {
        assert!(
            dom.contains(&format!(r#"data-series="{series}""#)),
            "{series} in {}",
            svg.display()
        );
    }
    let png = dir.join("queue.png");
    headless(
        &url,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,1000",
        ],
    );
    let pixels = pixels(&png);
    for (what, rgb) in [
        ("Judoscale-style", [0xd9, 0x77, 0x06]),
        ("HireFire-style", [0x08, 0x91, 0xb2]),
    ] {
        let seen = near(&pixels, rgb, 24);
        assert!(seen > 100, "{seen} pixels of {what}'s line");
    }
    // The target's thin dashed red, blended with the white under it where it falls between two
    // pixel rows: red with as much green as blue (not the markers' orange, nor the pale bands).
    let red = pixels
        .iter()
        .filter(|p| p[0] > 200 && p[1] < 180 && p[1].abs_diff(p[2]) < 16)
        .count();
    assert!(red > 300, "{red} pixels of the target's line");
    println!("screenshot: {}", png.display());
    // A compared config without [apps.queue] cannot replay jobs.
    let out = simulate_queue(&[
        "--compare",
        repo()
            .join("docs/simulate/worldcup98.toml")
            .to_str()
            .unwrap(),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("has no [apps.queue]"), "{stderr}");
}

#[test]
fn queue_mode_refuses_web_arguments_and_a_zero_job_time() {
    for (args, named) in [
        (vec!["--job-time", "0s"], "--job-time 0s"),
        (
            vec!["--job-time", "2s", "--capacity", "20"],
            "--capacity replays web traffic",
        ),
        (
            vec!["--stabilisation", "2m"],
            "--stabilisation replays web traffic",
        ),
    ] {
        let out = simulate_queue(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    // And a web app refuses a job time and a jobs trace.
    let out = simulate(&["--job-time", "2s"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--job-time is for a worker with [apps.queue]"),
        "{stderr}"
    );
    let dir = folder("queue-refused");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(repo().join("docs/simulate/worldcup98.toml"))
        .arg("simulate")
        .arg("--jobs-trace")
        .arg(jobs_trace(&dir))
        .args(["--capacity", "20"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--jobs-trace is for a worker with [apps.queue]"),
        "{stderr}"
    );
}
