//! The crate's one error type.

use std::time::Duration;

use crate::Backend;

/// Why a queue could not be read. Every message names the backend, and the queue and what was
/// expected where one queue is at fault; none holds the datastore URL or a job's payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config names a backend this crate does not know.
    #[error(
        "unknown queue backend {given:?}: expected one of sidekiq, rq, celery, bullmq, resque, \
         good_job, solid_queue, que, delayed_job, river, oban"
    )]
    UnknownBackend {
        /// The name given.
        given: String,
    },

    /// The datastore URL does not parse, is not the backend's kind of store, or asks for
    /// something unsupported. The message describes the problem without the URL.
    #[error("the {backend} datastore URL is not usable: {problem}")]
    Url {
        /// The backend whose URL it is.
        backend: Backend,
        /// What is wrong and what is expected.
        problem: String,
    },

    /// The `prefix` given is not one the backend can have: the backend has no setting for it, or
    /// the value is not of the form the library takes.
    #[error("{backend} prefix {given:?} is not usable: expected {expected}")]
    Prefix {
        /// The backend.
        backend: Backend,
        /// The prefix given.
        given: String,
        /// What the backend takes (or that it takes none).
        expected: &'static str,
    },

    /// No queues were named, and the backend keeps no list of its queues.
    #[error("{backend} keeps no list of its queues: name the queues to read in `queues`")]
    QueuesRequired {
        /// The backend.
        backend: Backend,
    },

    /// Redis refused the connection or a command, or the connection failed.
    #[error("cannot read the {backend} queues from Redis")]
    Redis {
        /// The backend.
        backend: Backend,
        /// What redis-rs reported.
        #[source]
        source: redis::RedisError,
    },

    /// PostgreSQL refused the connection or the query, or the connection failed.
    #[error("cannot read the {backend} queues from PostgreSQL")]
    Postgres {
        /// The backend.
        backend: Backend,
        /// What sqlx reported.
        #[source]
        source: sqlx::Error,
    },

    /// The datastore did not answer in time (a poll never hangs).
    #[error("the {backend} datastore did not answer within {after:?}")]
    Timeout {
        /// The backend.
        backend: Backend,
        /// How long the read waited.
        after: Duration,
    },

    /// A Redis key holds another type than the library stores there (another program uses the
    /// name, or the library changed).
    #[error(
        "{backend} queue {queue:?}: key {key:?} holds the wrong type of value, expected {expected}"
    )]
    WrongType {
        /// The backend.
        backend: Backend,
        /// The queue being read.
        queue: String,
        /// The key read.
        key: String,
        /// What the library stores there.
        expected: &'static str,
    },

    /// A job (or a worker's record of one) is not what the library writes: JSON that does not
    /// parse, a timestamp in another format.
    #[error("{backend} queue {queue:?}: {what} in {key:?} is {found}, expected {expected}")]
    MalformedJob {
        /// The backend.
        backend: Backend,
        /// The queue being read.
        queue: String,
        /// The key the job was read from.
        key: String,
        /// The part at fault: `enqueued_at`, `the job`, ...
        what: &'static str,
        /// What was found (a short excerpt, or a description where the value is the app's data).
        found: String,
        /// What the library writes.
        expected: &'static str,
    },

    /// A table or column the backend's schema has is missing (another version of the library, or
    /// not this library's database).
    #[error(
        "{backend} queues {queues}: the database does not have the backend's schema ({detail}); \
         expected {expected}"
    )]
    Schema {
        /// The backend.
        backend: Backend,
        /// The queues being read, comma-separated.
        queues: String,
        /// PostgreSQL's own words: which relation or column does not exist.
        detail: String,
        /// The tables and columns read.
        expected: &'static str,
        /// What sqlx reported.
        #[source]
        source: sqlx::Error,
    },
}
