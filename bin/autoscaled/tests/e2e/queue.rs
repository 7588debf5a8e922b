//! A worker scaled on its Sidekiq queue, read from a real Redis as a user allowed only reads: jobs
//! pushed by Sidekiq's own client (Debian's ruby-sidekiq) wake it from zero within a poll, running
//! jobs hold their dynos, and an empty queue takes it back to zero after the calm window.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use heroku_fake::FakeHeroku;

use super::harness::{API_KEY, BIN, Daemon, START, assert_no_secret, write_file};

const SECOND: Duration = Duration::from_secs(1);
const APP: &str = "e2e-jobs";
const PROCESS: &str = "worker";
/// The e2e binary's own database of the run's Redis (the queues crate's tests count up from 1).
const DB: u32 = 63;
const READER: &str = "e2e-queue-reader";
const READER_PASSWORD: &str = "e2e-reader-s3cret";
const URL_ENV: &str = "E2E_JOBS_REDIS_URL";

/// The run's Redis server, as scripts/test exports it.
fn redis_server() -> url::Url {
    let url = std::env::var("AUTOSCALED_TEST_REDIS").expect(
        "AUTOSCALED_TEST_REDIS is not set: this test needs a real redis-server; scripts/test starts one",
    );
    let mut url = url::Url::parse(&url).unwrap();
    url.set_path(&format!("/{DB}"));
    url
}

/// An administrator's connection, for what Sidekiq itself would write.
fn admin() -> redis::Connection {
    redis::Client::open(redis_server().as_str())
        .and_then(|client| client.get_connection())
        .unwrap()
}

/// The URL of a user allowed only read commands: the daemon can never write to the app's Redis.
fn reader_url() -> String {
    let mut admin = admin();
    redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            READER,
            "reset",
            "on",
            &format!(">{READER_PASSWORD}"),
            "~*",
            "-@all",
            "+@read",
            "+ping",
            "+hello",
            "+select",
        ])
        .query::<()>(&mut admin)
        .unwrap();
    let mut url = redis_server();
    url.set_username(READER).unwrap();
    url.set_password(Some(READER_PASSWORD)).unwrap();
    url.into()
}

/// `count` jobs in `queue`, pushed by Sidekiq's own client.
fn push_jobs(queue: &str, count: u32) {
    let client = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/queues/tests/clients/sidekiq.rb");
    let output = Command::new("ruby")
        .arg(client)
        .arg(redis_server().as_str())
        .arg(queue)
        .arg(count.to_string())
        .output()
        .expect("ruby with Debian's ruby-sidekiq (scripts/test installs it)");
    assert!(output.status.success(), "sidekiq.rb: {output:?}");
}

/// Jobs of `queue` running on a Sidekiq process, recorded as Sidekiq 6 records them
/// (launcher.rb, processor.rb): the process in SET `processes`, a record per job in its
/// `<identity>:work` hash. `0` removes the process.
fn set_busy(queue: &str, jobs: u32) {
    let identity = "worker.1:7:e2e";
    let work = format!("{identity}:work");
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(&work).ignore();
    pipe.cmd("SREM").arg("processes").arg(identity).ignore();
    if jobs > 0 {
        pipe.cmd("SADD").arg("processes").arg(identity).ignore();
        for n in 0..jobs {
            let record = format!(
                r#"{{"queue":"{queue}","payload":{{"class":"HardWorker","args":[{n}],"queue":"{queue}"}},"run_at":1765117200}}"#
            );
            pipe.cmd("HSET")
                .arg(&work)
                .arg(format!("tid{n}"))
                .arg(record)
                .ignore();
        }
    }
    pipe.query::<()>(&mut admin()).unwrap();
}

/// How many reads of a queue's length Redis has served: one a poll of the worker's one queue, the
/// proof that the daemon looked (no other test of this binary uses Redis).
fn polls() -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut admin())
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_llen:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// The quantities of every PATCH the fake received for the worker, in order.
fn worker_patches(fake: &FakeHeroku) -> Vec<u64> {
    let path = format!("/apps/{APP}/formation/{PROCESS}");
    fake.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .filter_map(|r| r.body.as_ref().and_then(|b| b["quantity"].as_u64()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidekiq_jobs_wake_a_worker_from_zero_and_an_empty_queue_takes_it_back() {
    redis::cmd("FLUSHDB").query::<()>(&mut admin()).unwrap();
    let reader = reader_url();
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(APP, PROCESS, 0);
    let toml = format!(
        "[heroku]\napi_key = \"{API_KEY}\"\napi_url = \"{}\"\n\n[state]\nurl = \"{}\"\n\n\
         [[apps]]\nname = \"{APP}\"\nprocess = \"{PROCESS}\"\nmin = 0\nmax = 8\nreconcile = \"1h\"\n\n\
         [apps.queue]\nbackend = \"sidekiq\"\nurl_env = \"{URL_ENV}\"\nqueues = [\"default\"]\n\
         latency = \"30s\"\nconcurrency = 10\npoll = \"1s\"\ncalm = \"3s\"\nstuck_after = \"5m\"\n",
        fake.url(),
        testkit::config::temp_sqlite_url()
    );
    let config = write_file("toml", &toml);
    let daemon = Daemon::spawn_with_env(
        BIN,
        &["--config", config.to_str().unwrap(), "run"],
        &[(URL_ENV, std::ffi::OsStr::new(&reader))],
    );
    daemon
        .wait_for_line(&["started", "app=e2e-jobs"], START)
        .await;
    let before = polls();
    daemon
        .wait_until("two polls of the empty queue", 10 * SECOND, || {
            (polls() >= before + 2).then_some(())
        })
        .await;
    // An empty queue keeps a worker at zero: no call.
    assert_eq!(worker_patches(&fake), Vec::<u64>::new());

    push_jobs("default", 500);
    let pushed = Instant::now();
    let woke = daemon
        .wait_until("the PATCH that wakes the worker", 30 * SECOND, || {
            worker_patches(&fake).first().map(|&q| (q, Instant::now()))
        })
        .await;
    // A poll is 1 s here; the promise is within one poll of the default 10 s, the call included.
    assert!(
        woke.1 - pushed <= 10 * SECOND,
        "woke {:?} after the jobs were pushed",
        woke.1 - pushed
    );
    assert!((1..=8).contains(&woke.0), "woke to {}", woke.0);
    daemon
        .wait_for_line(
            &[
                "scale",
                "app=e2e-jobs",
                "process=worker",
                "from=0",
                "reason=queue",
            ],
            5 * SECOND,
        )
        .await;

    // The jobs are taken: 15 run, none wait. 15 jobs at 10 a dyno occupy 2 dynos, whatever the
    // calm says.
    set_busy("default", 15);
    redis::cmd("DEL")
        .arg("queue:default")
        .query::<()>(&mut admin())
        .unwrap();
    daemon
        .wait_until(
            "the worker in to the busy jobs' 2 dynos",
            60 * SECOND,
            || (fake.quantity(APP, PROCESS) == Some(2)).then_some(()),
        )
        .await;
    // Three calm windows of polls more (3 a window): never below them while they run.
    let held_since = worker_patches(&fake).len();
    let seen = polls();
    daemon
        .wait_until("three more calm windows of polls", 60 * SECOND, || {
            (polls() >= seen + 9).then_some(())
        })
        .await;
    assert_eq!(fake.quantity(APP, PROCESS), Some(2));
    assert!(
        worker_patches(&fake)[held_since..].is_empty(),
        "{:?}",
        worker_patches(&fake)
    );

    // Done: nothing waits, nothing runs; zero after the calm window.
    set_busy("default", 0);
    daemon
        .wait_until("the worker back at zero", 60 * SECOND, || {
            (fake.quantity(APP, PROCESS) == Some(0)).then_some(())
        })
        .await;
    let all = worker_patches(&fake);
    assert!(
        all.iter().skip(1).all(|&q| q <= woke.0),
        "never out again once the jobs are gone: {all:?}"
    );
    let finished = daemon.stop().await;
    assert!(finished.status.success(), "{finished:?}");
    for (what, text) in [("stdout", &finished.stdout), ("stderr", &finished.stderr)] {
        assert_no_secret(what, text);
        assert!(
            !text.contains(READER_PASSWORD),
            "{what} shows the datastore's password"
        );
    }
}
