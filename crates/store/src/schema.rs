//! Schema versions, kept alike by both backends: each ships its migrations, one per version,
//! applied in order inside one transaction, and records the version reached in our marker table
//! `autoscaled_schema`. How a backend reads the version and locks out a second migrator is its
//! own.

use sqlx::{Database, Encode, Executor, IntoArguments, Type};

use crate::error::Error;
use crate::sql::{SCHEMA_VERSION_CLEAR, SCHEMA_VERSION_SET};
use crate::target::Shown;

/// One backend's migrations: the SQL of version 1, 2, ...
#[derive(Clone, Copy)]
pub(crate) struct Migrations(pub(crate) &'static [&'static str]);

impl Migrations {
    /// The version this build brings a schema to.
    pub(crate) fn latest(self) -> i64 {
        i64::try_from(self.0.len()).unwrap_or(i64::MAX)
    }

    /// For a reader, which never migrates: `Ok` when the schema `found` is this build's.
    pub(crate) fn check_current(self, found: i64, shown: &Shown) -> Result<(), Error> {
        match found {
            found if found > self.latest() => Err(self.too_new(found, shown)),
            found if found < self.latest() => Err(Error::NotMigrated {
                url: shown.url.clone(),
                found,
                needed: self.latest(),
            }),
            _ => Ok(()),
        }
    }

    /// The refusal of a schema migrated by a newer build.
    pub(crate) fn too_new(self, found: i64, shown: &Shown) -> Error {
        Error::TooNew {
            url: shown.url.clone(),
            found,
            supported: self.latest(),
        }
    }

    /// A failure while migrating to `version`, the password scrubbed.
    pub(crate) fn failed(self, version: i64, error: sqlx::Error, shown: &Shown) -> Error {
        Error::Migrate {
            url: shown.url.clone(),
            version,
            reason: shown.scrub(error),
        }
    }

    /// Applies the migrations after version `found` (refusing a newer schema) on `connection`,
    /// inside the caller's transaction, which the caller commits: all of them or none.
    pub(crate) async fn apply<DB>(
        self,
        connection: &mut DB::Connection,
        found: i64,
        shown: &Shown,
    ) -> Result<(), Error>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    {
        if found > self.latest() {
            return Err(self.too_new(found, shown));
        }
        for (version, sql) in (1..).zip(self.0).skip(usize::try_from(found).unwrap_or(0)) {
            let failed = |error| self.failed(version, error, shown);
            sqlx::raw_sql(sql)
                .execute(&mut *connection)
                .await
                .map_err(failed)?;
            sqlx::query::<DB>(SCHEMA_VERSION_CLEAR)
                .execute(&mut *connection)
                .await
                .map_err(failed)?;
            sqlx::query::<DB>(SCHEMA_VERSION_SET)
                .bind(version)
                .execute(&mut *connection)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}
