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

use std::fmt;

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
    fn deserializes_from_a_string() {
        let secret: Secret = serde_json::from_str("\"hunter2\"").expect("a JSON string");
        assert_eq!(secret.expose(), "hunter2");
    }
}
