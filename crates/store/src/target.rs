//! Which database a URL names, and how it is shown: with its password as `[redacted]`.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::error::Error;

const REDACTED: &str = "[redacted]";

/// An SQLite database in memory, for runs that must write no file (`autoscaled demo`): gone with
/// the process, never locked, created afresh at each open.
pub const MEMORY_URL: &str = "sqlite::memory:";

/// The database a URL names.
pub(crate) enum Target {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// An SQLite database in memory (`sqlite::memory:`), gone with the process.
    SqliteMemory,
    /// A PostgreSQL server.
    Postgres(Box<PgConnectOptions>),
}

/// A URL made fit to print, and the password texts to scrub from driver messages.
#[derive(Clone)]
pub(crate) struct Shown {
    /// The URL with its password replaced by `[redacted]`.
    pub(crate) url: String,
    /// The password as written in the URL and percent-decoded, for [`Shown::scrub`].
    secrets: Vec<String>,
}

impl Shown {
    pub(crate) fn new(url: &str) -> Self {
        let (url, raw) = redact(url);
        let mut secrets: Vec<String> = raw.iter().map(|raw| percent_decode(raw)).collect();
        secrets.extend(raw);
        secrets.retain(|secret| !secret.is_empty());
        // Longest first, so a password containing another's text is replaced whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        Self { url, secrets }
    }

    /// `message` with any password text in it replaced by `[redacted]`: driver messages are not ours
    /// to vouch for.
    pub(crate) fn scrub(&self, message: impl ToString) -> String {
        let mut message = message.to_string();
        for secret in &self.secrets {
            message = message.replace(secret.as_str(), REDACTED);
        }
        message
    }
}

/// Parses `url` into the database it names.
pub(crate) fn parse(url: &str, shown: &Shown) -> Result<Target, Error> {
    let invalid = |reason: String| Error::Url {
        url: shown.url.clone(),
        reason,
    };
    if url == MEMORY_URL {
        return Ok(Target::SqliteMemory);
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(invalid("no file path after sqlite://".into()));
        }
        if path.contains('?') {
            return Err(invalid(
                "sqlite:// URLs take no options, only a path".into(),
            ));
        }
        return Ok(Target::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options =
            PgConnectOptions::from_str(url).map_err(|error| invalid(shown.scrub(error)))?;
        // Heroku Postgres wants TLS but gives no sslmode, and its certificates are not signed by a
        // public CA: `prefer` encrypts when the server offers TLS, without verifying (as `require`
        // does; sqlx verifies only for verify-ca and verify-full), and still reaches a local server
        // without TLS. An sslmode in the URL wins; PGSSLMODE in the environment does not, so what
        // the daemon does is what its URL says.
        let explicit = query_params(url)
            .any(|(name, _)| name.eq_ignore_ascii_case("sslmode") || name == "ssl-mode");
        let options = if explicit {
            options
        } else {
            options.ssl_mode(PgSslMode::Prefer)
        };
        return Ok(Target::Postgres(Box::new(
            options.application_name("autoscaled"),
        )));
    }
    Err(invalid(
        "expected postgres://..., postgresql://... or sqlite://PATH".into(),
    ))
}

fn query_params(url: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// `url` with the password of its user info and of any `password=` parameter replaced, and those
/// passwords as written.
///
/// Works on the text rather than a parsed URL so that even a URL that does not parse is shown
/// safely. The user info runs to the *last* `@`: a password may hold an unescaped `@` or `/`, and
/// redacting too much is the safe side.
fn redact(url: &str) -> (String, Vec<String>) {
    let mut secrets = Vec::new();
    let mut shown = url.to_owned();
    if let Some(start) = url.find("://").map(|at| at + 3) {
        let rest = &url[start..];
        if let Some(at) = rest.rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            secrets.push(rest[colon + 1..at].to_owned());
            shown = format!(
                "{}{}:{REDACTED}{}",
                &url[..start],
                &rest[..colon],
                &rest[at..]
            );
        }
    }
    let parameters: Vec<String> = query_params(url)
        .filter(|(name, value)| *name == "password" && !value.is_empty())
        .map(|(_, value)| value.to_owned())
        .collect();
    for value in &parameters {
        shown = shown.replace(
            &format!("password={value}"),
            &format!("password={REDACTED}"),
        );
    }
    secrets.extend(parameters);
    (shown, secrets)
}

/// Decodes `%XX` escapes; anything else, including a malformed escape, is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_parameter_passwords() {
        let shown = Shown::new("postgres://u:p%40ss@db.example:5432/d?sslmode=require");
        assert_eq!(
            shown.url,
            "postgres://u:[redacted]@db.example:5432/d?sslmode=require"
        );
        assert_eq!(
            shown.scrub("auth p@ss and p%40ss"),
            "auth [redacted] and [redacted]"
        );

        let shown = Shown::new("postgres://u@h/d?password=hunter2&x=1");
        assert_eq!(shown.url, "postgres://u@h/d?password=[redacted]&x=1");

        // An unescaped `@` or `/` in the password: everything to the last `@` goes.
        let shown = Shown::new("postgresql://u:a/b@c@h/d");
        assert_eq!(shown.url, "postgresql://u:[redacted]@h/d");
        assert!(!shown.scrub("x a/b@c y").contains("a/b@c"));

        let shown = Shown::new("sqlite://autoscaled.db");
        assert_eq!(shown.url, "sqlite://autoscaled.db");
    }

    #[test]
    fn parses_the_three_schemes() {
        for url in [
            "sqlite://autoscaled.db",
            "sqlite:///var/lib/autoscaled/state.db",
        ] {
            assert!(matches!(
                parse(url, &Shown::new(url)),
                Ok(Target::Sqlite(_))
            ));
        }
        for url in [
            "postgres://u:p@h/d",
            "postgresql://u:p@h:5433/d?sslmode=disable",
        ] {
            assert!(matches!(
                parse(url, &Shown::new(url)),
                Ok(Target::Postgres(_))
            ));
        }
        for url in [
            "mysql://u:p@h/d",
            "sqlite://",
            "sqlite://x.db?mode=ro",
            "autoscaled.db",
        ] {
            let error = parse(url, &Shown::new(url)).err().expect("refused");
            assert!(matches!(error, Error::Url { .. }), "{url}: {error}");
            assert!(!error.to_string().contains(":p@"), "{error}");
        }
    }

    #[test]
    fn an_explicit_sslmode_wins_over_prefer() {
        let ssl_mode = |url: &str| match parse(url, &Shown::new(url)) {
            Ok(Target::Postgres(options)) => format!("{:?}", options.get_ssl_mode()),
            _ => panic!("a postgres URL"),
        };
        assert_eq!(ssl_mode("postgres://u:p@h/d"), "Prefer");
        assert_eq!(ssl_mode("postgres://u:p@h/d?sslmode=disable"), "Disable");
        assert_eq!(
            ssl_mode("postgres://u:p@h/d?sslmode=verify-full"),
            "VerifyFull"
        );
    }
}
