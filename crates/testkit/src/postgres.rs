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
