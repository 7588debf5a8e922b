use std::path::PathBuf;

/// Why the store could not be opened, or a call failed.
///
/// No variant carries a password: URLs are shown with theirs as `[redacted]`, and messages from the
/// database driver at open have the password's text scrubbed out as well.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is neither `postgres://...` (or `postgresql://...`) nor `sqlite://PATH`, or does not
    /// parse.
    #[error("invalid database URL {url}: {reason}")]
    Url {
        /// The URL, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database could not be opened at start: no server listening, login refused, an SQLite
    /// file that cannot be created (no such directory, not writable), a lock file that cannot be
    /// created.
    #[error("cannot open the database {url}: {reason}")]
    Open {
        /// The URL, password redacted.
        url: String,
        /// The cause, password scrubbed.
        reason: String,
    },
    /// The database is not autoscaled's: a file that is not SQLite, or an SQLite database of another
    /// program (tables of its own, no schema marker of ours). It is left untouched.
    #[error("{url} is not an autoscaled database: {reason}")]
    NotOurs {
        /// The URL, password redacted.
        url: String,
        /// What was found instead.
        reason: String,
    },
    /// The schema is newer than this build knows (a newer autoscaled migrated it): it is left
    /// untouched.
    #[error(
        "the database {url} has schema version {found}, newer than this autoscaled's {supported}: upgrade autoscaled"
    )]
    TooNew {
        /// The URL, password redacted.
        url: String,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A read-only open found the schema missing or older than this build's: a reader never
    /// writes, the daemon (or a command that edits) creates and migrates it.
    #[error(
        "the database {url} has schema version {found}, this autoscaled needs {needed}: start the daemon (`autoscaled run`) once to create or migrate it"
    )]
    NotMigrated {
        /// The URL, password redacted.
        url: String,
        /// The version found (0: no schema).
        found: i64,
        /// The version this build needs.
        needed: i64,
    },
    /// Another daemon holds this SQLite database (a lock on `PATH.lock`). Read-only opens still work.
    #[error("another autoscaled holds {}", path.display())]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// Creating or migrating the schema failed; the transaction was rolled back.
    #[error("cannot migrate the database {url} to schema version {version}: {reason}")]
    Migrate {
        /// The URL, password redacted.
        url: String,
        /// The version being migrated to.
        version: i64,
        /// The cause, password scrubbed.
        reason: String,
    },
    /// A call failed while running (connection lost, server gone, disk full, a write on a read-only
    /// store): nothing was written; the caller may log it and try again later.
    #[error("database: {0}")]
    Query(#[source] sqlx::Error),
    /// A stored value is not one this crate writes (a negative count, a time out of range): someone
    /// else wrote to the database.
    #[error("unexpected value in the database: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Query(error)
    }
}
