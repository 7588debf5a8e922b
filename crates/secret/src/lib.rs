//! A string that never prints.
//!
//! [`Secret`] holds an API key, a token or a password. Its `Debug` and `Display` print `[redacted]`,
//! so a secret that ends up in a log line, an error message or a `{:?}` of a config struct leaks
//! nothing. The value is reached only through [`Secret::expose`], which makes every use of it easy to
//! find in review.
//!
//! ```
//! use autoscaled_secret::Secret;
//!
//! let key = Secret::new("01234567-89ab-4cde-8f01-23456789abcd");
//! assert_eq!(format!("{key} {key:?}"), "[redacted] [redacted]");
//! assert_eq!(key.expose(), "01234567-89ab-4cde-8f01-23456789abcd");
//! ```
//!
//! A URL may carry a secret too, as its password (`https://user:pass@host/`) or in its query
//! (`?token=...`). [`RedactedUrl`] shows such a URL with both replaced by `[redacted]`, for every
//! place a URL is printed:
//!
//! ```
//! use autoscaled_secret::RedactedUrl;
//!
//! let url = url::Url::parse("https://user:s3cret@example.com/health?token=t0k3n").unwrap();
//! assert_eq!(
//!     RedactedUrl(&url).to_string(),
//!     "https://user:[redacted]@example.com/health?[redacted]"
//! );
//! ```

use std::fmt;

use url::{Position, Url};

/// What a [`Secret`] prints in place of its value.
pub const REDACTED: &str = "[redacted]";

/// A secret string: printed as `[redacted]`, read with [`Secret::expose`].
///
/// It deserializes from a plain string, so config structs can hold it directly, and it does not
/// implement `Serialize`, so it cannot be written out by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself. Call this only where the secret must be sent to its owner's service.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (an unset environment variable, say).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// A URL as it may be shown: its password and its query, if it has them, print as `[redacted]`;
/// the scheme, user name, host, port, path and fragment print as they are. `Display` gives the
/// URL, `Debug` the URL quoted.
///
/// The user name stays: it names an account without opening it, and tells which one is used.
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(pub &'a Url);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        match url.password() {
            Some(_) => write!(
                f,
                "{}{REDACTED}{}",
                &url[..Position::BeforePassword],
                &url[Position::AfterPassword..Position::AfterPath]
            )?,
            None => f.write_str(&url[..Position::AfterPath])?,
        }
        if url.query().is_some() {
            write!(f, "?{REDACTED}")?;
        }
        f.write_str(&url[Position::AfterQuery..])
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("hunter2");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Secret,
        }
        let shown = format!(
            "{secret} {secret:?} {secret:#?} {:?}",
            Holder {
                token: secret.clone()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown.matches(REDACTED).count(), 4);
    }

    #[test]
    fn a_url_shows_neither_its_password_nor_its_query() {
        let shown = |text: &str| {
            let url = Url::parse(text).expect("a valid URL");
            (
                RedactedUrl(&url).to_string(),
                format!("{:?}", RedactedUrl(&url)),
            )
        };
        let (display, debug) = shown("https://user:s3cret@example.com:8443/up?key=t0k3n#top");
        assert_eq!(
            display,
            "https://user:[redacted]@example.com:8443/up?[redacted]#top"
        );
        assert_eq!(debug, format!("\"{display}\""));
        assert_eq!(
            shown("http://example.com/health").0,
            "http://example.com/health"
        );
        assert_eq!(
            shown("https://user@example.com/").0,
            "https://user@example.com/"
        );
        assert_eq!(
            shown("https://:s3cret@example.com/").0,
            "https://:[redacted]@example.com/"
        );
    }

    #[test]
    fn deserializes_from_a_string() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").expect("a JSON string");
        assert_eq!(secret.expose(), "hunter2");
    }
}
