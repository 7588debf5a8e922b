//! The test servers and the libraries' own clients.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use autoscaled_queues::{Backend, Options, QueueReading, Reader, Reading};
use chrono::{DateTime, Utc};
use secret::Secret;

/// The variable naming the test run's Redis server (`scripts/redis` prints it).
pub(crate) const REDIS_ENV: &str = "AUTOSCALED_TEST_REDIS";

/// The read-only ACL user every reader connects as.
const READER_USER: &str = "autoscaled-reader";
const READER_PASSWORD: &str = "reader-s3cret";

fn redis_server() -> url::Url {
    let url = std::env::var(REDIS_ENV).unwrap_or_else(|_| {
        panic!(
            "{REDIS_ENV} is not set: these tests need a real redis-server. Run scripts/test, \
             which installs and starts one (scripts/redis prints the URL to export)"
        )
    });
    url::Url::parse(&url).unwrap_or_else(|error| panic!("{REDIS_ENV} is not a URL: {error}"))
}

/// A Redis database of one test's own (the server has 64), emptied first, with the URL of an
/// administrator (to write jobs) and of a user allowed only to read (for the reader).
pub(crate) struct TestRedis {
    db: u32,
    server: url::Url,
}

impl TestRedis {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        static ACL: Once = Once::new();
        let server = redis_server();
        let db = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(
            db < 64,
            "more Redis tests than databases: raise --databases in scripts/redis"
        );
        ACL.call_once(|| {
            let mut admin = redis::Client::open(server.as_str())
                .and_then(|client| client.get_connection())
                .unwrap_or_else(|error| panic!("cannot reach {REDIS_ENV} ({server}): {error}"));
            // Only reads, and what a connection needs to start: the proof that the readers never
            // write.
            redis::cmd("ACL")
                .arg(&[
                    "SETUSER",
                    READER_USER,
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
                .expect("ACL SETUSER");
        });
        let redis = Self { db, server };
        redis::cmd("FLUSHDB")
            .query::<()>(&mut redis.admin())
            .expect("FLUSHDB");
        redis
    }

    /// The administrator's URL of this database (what the libraries' clients use).
    pub(crate) fn admin_url(&self) -> String {
        let mut url = self.server.clone();
        url.set_path(&format!("/{}", self.db));
        url.into()
    }

    /// The read-only user's URL of this database, for the reader.
    pub(crate) fn reader_url(&self) -> Secret {
        let mut url = self.server.clone();
        url.set_username(READER_USER).expect("a user name");
        url.set_password(Some(READER_PASSWORD)).expect("a password");
        url.set_path(&format!("/{}", self.db));
        Secret::new(String::from(url))
    }

    pub(crate) fn admin(&self) -> redis::Connection {
        redis::Client::open(self.admin_url())
            .and_then(|client| client.get_connection())
            .expect("an administrator's connection")
    }

    pub(crate) async fn reader(&self, backend: Backend, queues: &[&str]) -> Reader {
        self.reader_with(backend, queues, Options::default()).await
    }

    pub(crate) async fn reader_with(
        &self,
        backend: Backend,
        queues: &[&str],
        options: Options,
    ) -> Reader {
        Reader::connect_with(
            backend,
            &self.reader_url(),
            queues.iter().map(|queue| queue.to_string()).collect(),
            options,
        )
        .await
        .unwrap_or_else(|error| panic!("connect {backend}: {error:?}"))
    }
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn client(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {what} ({error}): scripts/test installs it"));
    assert!(
        output.status.success(),
        "{what} failed (scripts/test installs the clients the tests need): {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sidekiq 6's own client (Debian's ruby-sidekiq).
pub(crate) fn sidekiq(redis: &TestRedis, args: &[&str]) {
    let mut command = Command::new("ruby");
    command
        .arg(client("sidekiq.rb"))
        .arg(redis.admin_url())
        .args(args);
    run(command, "ruby with Debian's ruby-sidekiq");
}

/// A Python script on the venv `scripts/test` makes with RQ and Celery (PyPI).
pub(crate) fn python(redis: &TestRedis, script: &str, args: &[&str]) {
    python_with(redis, &[], script, args);
}

/// [`python`] with environment variables (`PREFIX`: the client's key prefix).
pub(crate) fn python_with(redis: &TestRedis, env: &[(&str, &str)], script: &str, args: &[&str]) {
    let python = repository().join("scripts/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: scripts/test makes it and installs RQ and Celery from \
         scripts/requirements-queues.txt",
        python.display()
    );
    let mut command = Command::new(python);
    command
        .envs(env.iter().copied())
        .arg(client(script))
        .arg(redis.admin_url())
        .args(args);
    run(command, script);
}

/// BullMQ's own client (npm, installed by scripts/test into scripts/node_modules).
pub(crate) fn bullmq(redis: &TestRedis, args: &[&str]) {
    bullmq_with(redis, &[], args);
}

/// [`bullmq`] with environment variables (`PREFIX`: the client's `prefix` option).
pub(crate) fn bullmq_with(redis: &TestRedis, env: &[(&str, &str)], args: &[&str]) {
    let modules = repository().join("scripts/node_modules");
    assert!(
        modules.join("bullmq").exists(),
        "scripts/node_modules/bullmq is missing: scripts/test installs it (npm ci --prefix scripts)"
    );
    let mut command = Command::new("node");
    command
        .envs(env.iter().copied())
        .env("NODE_PATH", modules)
        .arg(client("bullmq_enqueue.js"))
        .arg(redis.admin_url())
        .args(args);
    run(command, "node with BullMQ");
}

/// Reads once, failing the test on an error, and checks the reading holds the figures
/// [`Backend::reads`] promises (what `check` will tell users).
pub(crate) async fn read(reader: &Reader, now: DateTime<Utc>) -> Reading {
    let reading = reader
        .read(now)
        .await
        .unwrap_or_else(|error| panic!("read {}: {error:?}", reader.backend()));
    check_reads(reader.backend(), &reading);
    reading
}

pub(crate) fn check_reads(backend: Backend, reading: &Reading) {
    let reads = backend.reads();
    for queue in &reading.queues {
        assert_eq!(
            queue.busy.is_some(),
            reads.busy,
            "{backend} busy: {queue:?}"
        );
        assert_eq!(
            queue.due.is_some() || reading.due_shared.is_some(),
            reads.due,
            "{backend} due: {reading:?}"
        );
        if !reads.latency {
            assert_eq!(queue.latency, None, "{backend} latency: {queue:?}");
        }
        if !reads.paused {
            assert!(!queue.paused, "{backend} paused: {queue:?}");
        }
    }
}

/// The reading of one queue.
pub(crate) fn queue<'a>(reading: &'a Reading, name: &str) -> &'a QueueReading {
    reading
        .queues
        .iter()
        .find(|queue| queue.name == name)
        .unwrap_or_else(|| panic!("no queue {name} in {reading:?}"))
}

/// The wall clock around an enqueue, so that a latency read later can be bounded by what the
/// client could have written, whatever the machine's speed.
pub(crate) struct Window {
    pub(crate) before: DateTime<Utc>,
    pub(crate) after: DateTime<Utc>,
}

pub(crate) fn window(enqueue: impl FnOnce()) -> Window {
    let before = Utc::now();
    enqueue();
    Window {
        before,
        after: Utc::now(),
    }
}

impl Window {
    /// Asserts `latency`, read at `now`, is the age of a job enqueued within the window (a
    /// millisecond of slack either way for the libraries' rounding).
    pub(crate) fn assert_age(&self, latency: Option<Duration>, now: DateTime<Utc>) {
        let latency = latency.expect("a latency");
        let slack = chrono::Duration::milliseconds(1);
        let least = (now - self.after - slack).to_std().unwrap_or_default();
        let most = (now - self.before + slack)
            .to_std()
            .expect("now after the window");
        assert!(
            least <= latency && latency <= most,
            "latency {latency:?} outside [{least:?}, {most:?}]"
        );
    }
}

/// A pipeline of the same command `count` times (bulk writes of jobs as a library writes them).
pub(crate) fn repeat(connection: &mut redis::Connection, count: usize, command: &[&str]) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for _ in chunk {
            pipe.cmd(command[0]).arg(&command[1..]).ignore();
        }
        pipe.query::<()>(connection).expect("bulk write");
    }
}
