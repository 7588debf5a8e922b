//! The job libraries read, by the names the config uses.

use std::fmt;

/// A job library whose queues can be read, named in the config as [`Backend::name`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Sidekiq 6 to 8 (Redis).
    Sidekiq,
    /// RQ, Python (Redis).
    Rq,
    /// Celery with its Redis broker (kombu's Redis transport).
    Celery,
    /// BullMQ, Node.js (Redis), with its default key prefix `bull`.
    Bullmq,
    /// Resque (Redis), with its default namespace `resque`.
    Resque,
    /// GoodJob 3–4 (PostgreSQL table `good_jobs`).
    GoodJob,
    /// Solid Queue 1.x (PostgreSQL tables `solid_queue_*`).
    SolidQueue,
    /// Que 2.x (PostgreSQL table `que_jobs`).
    Que,
    /// Delayed::Job with its Active Record backend (PostgreSQL table `delayed_jobs`).
    DelayedJob,
    /// River, Go (PostgreSQL tables `river_job`, `river_queue`).
    River,
    /// Oban 2.x, Elixir (PostgreSQL table `oban_jobs` in the `public` prefix).
    Oban,
}

/// Where a backend keeps its jobs, which is what its datastore URL must point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Store {
    /// A Redis server: `redis://` or `rediss://`.
    Redis,
    /// A PostgreSQL database: `postgres://` or `postgresql://`.
    Postgres,
}

/// Which figures a backend's datastore holds, for `check` to say what can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    /// The age of the oldest ready job. Celery: only when the app adds a publish time.
    pub latency: bool,
    /// The jobs running now.
    pub busy: bool,
    /// Scheduled or retrying jobs already due.
    pub due: bool,
    /// Whether a queue is paused.
    pub paused: bool,
}

impl Backend {
    /// Every backend, in the order the docs list them.
    pub const ALL: [Backend; 11] = [
        Backend::Sidekiq,
        Backend::Rq,
        Backend::Celery,
        Backend::Bullmq,
        Backend::Resque,
        Backend::GoodJob,
        Backend::SolidQueue,
        Backend::Que,
        Backend::DelayedJob,
        Backend::River,
        Backend::Oban,
    ];

    /// The name the config's `backend` key takes.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sidekiq => "sidekiq",
            Backend::Rq => "rq",
            Backend::Celery => "celery",
            Backend::Bullmq => "bullmq",
            Backend::Resque => "resque",
            Backend::GoodJob => "good_job",
            Backend::SolidQueue => "solid_queue",
            Backend::Que => "que",
            Backend::DelayedJob => "delayed_job",
            Backend::River => "river",
            Backend::Oban => "oban",
        }
    }

    /// Where it keeps its jobs.
    pub fn store(self) -> Store {
        match self {
            Backend::Sidekiq
            | Backend::Rq
            | Backend::Celery
            | Backend::Bullmq
            | Backend::Resque => Store::Redis,
            Backend::GoodJob
            | Backend::SolidQueue
            | Backend::Que
            | Backend::DelayedJob
            | Backend::River
            | Backend::Oban => Store::Postgres,
        }
    }

    /// What its datastore lets autoscaled read.
    pub fn reads(self) -> Reads {
        let (latency, busy, due, paused) = match self {
            // Sidekiq's due jobs are counted for all queues together (`Reading::due_shared`).
            Backend::Sidekiq | Backend::Rq | Backend::Oban => (true, true, true, false),
            Backend::Bullmq | Backend::SolidQueue | Backend::River => (true, true, true, true),
            // Celery's messages carry no publish time unless the app adds one; running jobs sit
            // in workers' memory and `eta` tasks in `unacked`, neither per queue.
            Backend::Celery => (true, false, false, false),
            Backend::Resque => (false, true, false, false),
            // A due job is ready there: it is in the depth, not a figure of its own.
            Backend::GoodJob | Backend::Que | Backend::DelayedJob => (true, true, false, false),
        };
        Reads {
            latency,
            busy,
            due,
            paused,
        }
    }

    /// What a `prefix` means for this backend, as the library names the setting and its default;
    /// `None` where the library has no such setting this reader follows.
    pub fn prefix_setting(self) -> Option<&'static str> {
        match self {
            Backend::Sidekiq => Some(
                "a redis-namespace namespace (none by default): keys become NAMESPACE:queue:NAME",
            ),
            Backend::Bullmq => Some("BullMQ's `prefix` option (default bull)"),
            Backend::Resque => Some("Resque's namespace (default resque)"),
            Backend::Celery => Some(
                "kombu's `global_keyprefix` transport option (none by default), put before every \
                 key as it is",
            ),
            Backend::DelayedJob => Some(
                "Active Record's `table_name_prefix` (none by default): the table read is \
                 PREFIXdelayed_jobs",
            ),
            Backend::River => Some("River's `Schema` (the search path's schema by default)"),
            Backend::Oban => Some("Oban's `prefix`, a PostgreSQL schema (default public)"),
            _ => None,
        }
    }

    /// Whether `queues` may be left out: the backend keeps a list of its queues (Sidekiq, RQ,
    /// Resque, River), every one of which is then read, or has a default queue (Celery's
    /// `celery`). The others need their queues named.
    pub fn lists_queues(self) -> bool {
        matches!(
            self,
            Backend::Sidekiq | Backend::Rq | Backend::Resque | Backend::Celery | Backend::River
        )
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for backend in Backend::ALL {
            assert_eq!(backend.name().parse::<Backend>().unwrap(), backend);
        }
        let error = "sidekiq8".parse::<Backend>().unwrap_err().to_string();
        assert!(
            error.contains("\"sidekiq8\"") && error.contains("good_job"),
            "{error}"
        );
    }

    #[test]
    fn prefixes_are_checked_against_what_the_library_takes() {
        for (backend, prefix) in [
            (Backend::Sidekiq, "myapp"),
            (Backend::Bullmq, "{jobs}"),
            (Backend::Resque, "resque:myapp"),
            (Backend::Celery, "myapp:"),
            (Backend::Oban, "private"),
            (Backend::River, "River_2"),
            (Backend::DelayedJob, "app_"),
        ] {
            assert!(backend.check_prefix(prefix).is_ok(), "{backend} {prefix}");
        }
        for (backend, prefix, expected) in [
            (Backend::Rq, "rq2", "RQ's keys always start with rq:"),
            (Backend::GoodJob, "jobs", "fixed names"),
            (Backend::Bullmq, "", "non-empty"),
            (Backend::Sidekiq, "my app", "without spaces"),
            (Backend::Resque, "resque:", "trailing"),
            (
                Backend::Oban,
                "public; DROP TABLE oban_jobs",
                "plain PostgreSQL schema",
            ),
            (Backend::Oban, "\"quoted\"", "plain PostgreSQL schema"),
            (Backend::River, "1st", "plain PostgreSQL schema"),
            (Backend::DelayedJob, "jobs.", "plain table name prefix"),
        ] {
            let error = backend.check_prefix(prefix).unwrap_err().to_string();
            assert!(
                error.contains(&format!("{prefix:?}")) && error.contains(expected),
                "{error}"
            );
        }
        let long = "s".repeat(64);
        assert!(Backend::Oban.check_prefix(&long).is_err());
    }
}
