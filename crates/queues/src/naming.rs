//! A backend as the config names it, and its `prefix`, checked: the one place where a
//! [`Backend`] meets the crate's [`Error`].

use std::str::FromStr;

use crate::{Backend, Error, Store};

impl Backend {
    /// Checks `prefix` against what the backend takes (see [`Backend::prefix_setting`]): a key
    /// prefix of printable characters for the Redis backends that have one, a plain PostgreSQL
    /// identifier (letters, digits, `_`, not starting with a digit, at most 63 bytes) for a schema
    /// or Delayed::Job's table name prefix (with `delayed_jobs` after it).
    pub fn check_prefix(self, prefix: &str) -> Result<(), Error> {
        let refuse = |expected| {
            Err(Error::Prefix {
                backend: self,
                given: prefix.to_owned(),
                expected,
            })
        };
        match self.store() {
            _ if self.prefix_setting().is_none() => refuse(match self {
                Backend::Rq => "none: RQ's keys always start with rq:",
                _ => {
                    "none: this backend's tables have fixed names (point the URL at the \
                     database that holds them)"
                }
            }),
            Store::Redis => {
                let printable = !prefix.is_empty()
                    && prefix
                        .chars()
                        .all(|c| !c.is_control() && !c.is_whitespace());
                if !printable {
                    refuse("a non-empty key prefix without spaces or control characters")
                } else if self != Backend::Celery && prefix.ends_with(':') {
                    refuse("the prefix without its trailing `:` (the library adds it)")
                } else {
                    Ok(())
                }
            }
            Store::Postgres => {
                let mut chars = prefix.chars();
                let plain = chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                match self {
                    Backend::DelayedJob if plain && prefix.len() <= 63 - "delayed_jobs".len() => {
                        Ok(())
                    }
                    Backend::DelayedJob => refuse(
                        "a plain table name prefix: letters, digits and _, not starting with a \
                         digit, at most 51 characters (a prefix naming a schema, `jobs.`, is \
                         not read)",
                    ),
                    _ if plain && prefix.len() <= 63 => Ok(()),
                    _ => refuse(
                        "a plain PostgreSQL schema name: letters, digits and _, not starting \
                         with a digit, at most 63 characters",
                    ),
                }
            }
        }
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(given: &str) -> Result<Self, Error> {
        Backend::ALL
            .into_iter()
            .find(|backend| backend.name() == given)
            .ok_or_else(|| Error::UnknownBackend {
                given: given.to_owned(),
            })
    }
}
