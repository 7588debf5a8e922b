//! The reader of one app's queues, and what a read gives.

use std::fmt;

use chrono::{DateTime, Utc};
use secret::Secret;

use crate::postgres::PostgresQueues;
use crate::reading::{DEPTH_CAP, READ_TIMEOUT, Reading};
use crate::redis::RedisQueues;
use crate::{Backend, Error, Store};

/// Reads the configured queues of one backend from its datastore, over one connection shared by
/// every queue. Read-only: it sends Redis read commands and PostgreSQL `SELECT`s in read-only
/// transactions.
pub struct Reader {
    backend: Backend,
    queues: Vec<String>,
    depth_cap: u64,
    store: Connection,
}

enum Connection {
    Redis(RedisQueues),
    Postgres(PostgresQueues),
}

/// How the app set its library up where that differs from the library's defaults, for
/// [`Reader::connect_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The key prefix, namespace or schema the library was given (see
    /// [`Backend::prefix_setting`]); `None` reads the library's default.
    pub prefix: Option<String>,
}

impl Options {
    /// Reads the library's keys or tables under `prefix` (checked by [`Reader::connect_with`]
    /// with [`Backend::check_prefix`]).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }
}

impl Reader {
    /// Connects to the datastore holding `backend`'s jobs, kept where the library keeps them by
    /// default. `queues` names the queues to read; empty reads every queue the backend lists (an
    /// error for backends that keep no list, see [`Backend::lists_queues`]).
    pub async fn connect(
        backend: Backend,
        url: &Secret,
        queues: Vec<String>,
    ) -> Result<Self, Error> {
        Self::connect_with(backend, url, queues, Options::default()).await
    }

    /// [`Reader::connect`] for an app whose library was set up with `options`: a key prefix,
    /// namespace or schema of its own.
    pub async fn connect_with(
        backend: Backend,
        url: &Secret,
        queues: Vec<String>,
        options: Options,
    ) -> Result<Self, Error> {
        if queues.is_empty() && !backend.lists_queues() {
            return Err(Error::QueuesRequired { backend });
        }
        let prefix = options.prefix;
        if let Some(prefix) = &prefix {
            backend.check_prefix(prefix)?;
        }
        let connecting = async {
            Ok::<_, Error>(match backend.store() {
                Store::Redis => {
                    Connection::Redis(RedisQueues::connect(backend, url, prefix.as_deref()).await?)
                }
                Store::Postgres => Connection::Postgres(
                    PostgresQueues::connect(backend, url, prefix.as_deref()).await?,
                ),
            })
        };
        let store = tokio::time::timeout(READ_TIMEOUT, connecting)
            .await
            .map_err(|_| Error::Timeout {
                backend,
                after: READ_TIMEOUT,
            })??;
        Ok(Self {
            backend,
            queues,
            depth_cap: DEPTH_CAP,
            store,
        })
    }

    /// Counts ready and due jobs in tables up to `cap` per queue rather than [`DEPTH_CAP`]: the
    /// daemon passes `max` × `concurrency`, the most its rules can use. Redis backends count
    /// every job whatever the cap (`LLEN` costs the same).
    pub fn with_depth_cap(mut self, cap: u64) -> Self {
        self.depth_cap = cap.max(1);
        self
    }

    /// The backend read.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Reads every queue once. `now` is the clock the latencies and due times are measured
    /// against (the caller's, so that tests control it).
    pub async fn read(&self, now: DateTime<Utc>) -> Result<Reading, Error> {
        let reading = async {
            match &self.store {
                Connection::Redis(redis) => redis.read(self.backend, &self.queues, now).await,
                Connection::Postgres(postgres) => {
                    postgres
                        .read(self.backend, &self.queues, now, self.depth_cap)
                        .await
                }
            }
        };
        tokio::time::timeout(READ_TIMEOUT, reading)
            .await
            .map_err(|_| Error::Timeout {
                backend: self.backend,
                after: READ_TIMEOUT,
            })?
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection is left out: its address is part of the secret URL.
        f.debug_struct("Reader")
            .field("backend", &self.backend)
            .field("queues", &self.queues)
            .field("depth_cap", &self.depth_cap)
            .finish_non_exhaustive()
    }
}
