//! A fresh PostgreSQL database per test, on the server `scripts/postgres` sets up.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the test server: a URL of a role that may create databases.
pub const POSTGRES_ENV: &str = "AUTOSCALED_TEST_POSTGRES";

/// A database `test_<random>` created on the test server for one test, dropped on drop.
///
/// Created and dropped with `psql` (installed with the server by `scripts/postgres`), so that this
/// crate needs no database driver and dropping needs no async runtime.
#[derive(Debug)]
pub struct PostgresDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDb {
    /// Creates a fresh database. Panics, failing the test, when [`POSTGRES_ENV`] is unset (with a
    /// message saying to run `scripts/postgres`) or the server refuses.
    pub fn create() -> Self {
        let admin_url = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_ENV} is not set: these tests need a real PostgreSQL server. Run \
                 `scripts/postgres` (as root; it installs and starts one) and export \
                 {POSTGRES_ENV} as the URL it prints"
            )
        });
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let name = format!(
            "test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut url = url::Url::parse(&admin_url)
            .unwrap_or_else(|error| panic!("{POSTGRES_ENV} is not a URL: {error}"));
        url.set_path(&name);
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        Self {
            admin_url,
            name,
            url: url.into(),
        }
    }

    /// The new database's URL (with the test role's password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Takes the database away as a fail-over would, leaving the server up for every other test:
    /// no new connection is allowed, and every open one is ended.
    pub fn cut_off(&self) {
        psql(
            &self.admin_url,
            &format!(
                "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
                self.name
            ),
        );
    }

    /// Brings the database back after [`cut_off`](Self::cut_off).
    pub fn restore(&self) {
        psql(
            &self.admin_url,
            &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", self.name),
        );
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        // FORCE: a pool the test did not close may still hold a connection.
        psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let output = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("cannot run psql: run scripts/postgres, which installs PostgreSQL");
    assert!(
        output.status.success(),
        "psql -c {sql:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A PostgreSQL server of the test's own, on a free loopback port, which the test may stop and
/// start again (the shared test server must never be stopped: other tests use it). Made with the
/// installed server's `initdb` and `pg_ctl` in a directory of its own, as the `postgres` user when
/// the test runs as root (the server refuses to run as root); trust authentication on 127.0.0.1
/// only. Stopped and deleted on drop.
#[derive(Debug)]
pub struct PostgresCluster {
    dir: std::path::PathBuf,
    bin: std::path::PathBuf,
    port: u16,
}

impl PostgresCluster {
    /// Creates the cluster and starts it. Panics, failing the test, when PostgreSQL's server
    /// programs are not installed (`scripts/postgres` installs them) or do not work.
    pub fn start() -> Self {
        let bin = server_bin();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "autoscaled-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cannot create the cluster's directory");
        if as_root() {
            run("chown", &["postgres:postgres", &dir.display().to_string()]);
        }
        let cluster = Self {
            port: crate::closed_port(),
            dir,
            bin,
        };
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "autoscaled",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        cluster.resume();
        cluster
    }

    /// The URL of its `postgres` database, for the role `autoscaled` (a superuser).
    pub fn url(&self) -> String {
        format!("postgres://autoscaled@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast: sessions are cut, as in a fail-over), waiting until it is down.
    pub fn stop(&self) {
        self.pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts the server (again), waiting until it takes connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Runs one of the server's programs, as `postgres` when root.
    fn pg(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program).display().to_string();
        if as_root() {
            let mut all = vec!["-u", "postgres", "--", path.as_str()];
            all.extend_from_slice(args);
            run("runuser", &all);
        } else {
            run(&path, args);
        }
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl").display().to_string();
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        // Already stopped is fine: only the directory must go.
        let _ = if as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--", path.as_str()])
                .args(args)
                .output()
        } else {
            Command::new(&path).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's programs: `/usr/lib/postgresql/VERSION/bin` (Debian's layout).
fn server_bin() -> std::path::PathBuf {
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "no /usr/lib/postgresql/*/bin/pg_ctl: run scripts/postgres, which installs PostgreSQL",
    )
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
