//! The store against real databases: SQLite files in a temporary directory, and a PostgreSQL server
//! (`scripts/postgres` starts one and prints the URL for `AUTOSCALED_TEST_POSTGRES`; without it the
//! PostgreSQL tests fail, saying so).
//!
//! `cases` holds the tests every backend must pass; `both!` runs each against both. Tests proper to
//! one backend (files and locks; TLS and unreachable servers) are in `sqlite` and `postgres`; `fleet`
//! (leases in use: fencing, coordinators sharing apps) runs on both through `fleet!`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test's helpers fail the test that calls them, with their message and line"
)]

#[path = "store/cases.rs"]
mod cases;
#[path = "store/fleet.rs"]
mod fleet;
#[path = "store/postgres.rs"]
mod postgres;
#[path = "store/sqlite.rs"]
mod sqlite;

use autoscaled_store::{Access, Store};

/// A database for one test, removed afterwards.
pub(crate) struct Db {
    url: String,
    /// The temporary directory or database, deleted when dropped.
    _keep: Box<dyn std::any::Any>,
}

impl Db {
    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        Self {
            url: format!("sqlite://{}", dir.path().join("autoscaled.db").display()),
            _keep: Box::new(dir),
        }
    }

    pub(crate) fn postgres() -> Self {
        let db = testkit::PostgresDb::create();
        Self {
            url: db.url().to_owned(),
            _keep: Box::new(db),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) async fn open(&self, access: Access) -> Store {
        Store::open(&self.url, access)
            .await
            .unwrap_or_else(|error| panic!("open {access:?}: {error}"))
    }
}

/// Runs each named case of `cases` against a fresh SQLite file and a fresh PostgreSQL database.
macro_rules! both {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test]
            async fn $case() {
                crate::cases::$case(crate::Db::sqlite()).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test]
            async fn $case() {
                crate::cases::$case(crate::Db::postgres()).await;
            })*
        }
    };
}

both!(
    schema_is_created_then_reopened,
    app_state_round_trips,
    decisions_come_newest_first_up_to_the_limit,
    history_round_trips_and_a_minute_is_replaced,
    history_reads_a_half_open_range_of_one_app,
    prune_deletes_what_is_older,
    read_only_reads_but_does_not_write,
    lease_goes_to_one_holder_until_it_lapses,
    renew_keeps_only_leases_still_held,
    instances_heartbeat,
    write_path_figures,
    overrides_are_recorded_listed_and_ended,
    an_editor_first_makes_the_schema_and_the_daemon_reads_its_override,
);

/// Runs each named case of `fleet` against both backends, as `both!` does for `cases`.
macro_rules! fleet {
    ($($case:ident),* $(,)?) => {
        mod fleet_on_sqlite {
            $(#[tokio::test]
            async fn $case() {
                crate::fleet::$case(crate::Db::sqlite()).await;
            })*
        }
        mod fleet_on_postgres {
            $(#[tokio::test]
            async fn $case() {
                crate::fleet::$case(crate::Db::postgres()).await;
            })*
        }
    };
}

fleet!(
    fenced_writes_stop_once_the_lease_moves_on,
    coordinators_share_the_keys_one_holder_each,
    a_lone_instance_goes_on_when_its_database_fails,
);

#[tokio::test]
async fn fleet_member_that_cannot_renew_stops_before_its_lease_can_pass_on() {
    fleet::a_fleet_member_that_cannot_renew_stops_before_its_lease_can_pass_on(Db::postgres())
        .await;
}
