//! The page's password: HTTP basic auth, any user name, checked in constant time.

use std::fmt;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use secret::Secret;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The password that guards the page, kept only as its SHA-256 digest.
///
/// A guess is hashed too and the two digests compared in constant time, so how long a check takes
/// tells neither the password's content nor its length (a digest is 32 bytes whatever it hashes).
/// Its `Debug` shows nothing of either.
///
/// ```
/// use autoscaled_status::Password;
///
/// let password = Password::new(&"correct horse".to_owned().into());
/// assert!(password.matches("correct horse"));
/// assert!(!password.matches("correct horsf"));
/// assert!(!password.matches("correct"));
/// ```
#[derive(Clone)]
pub struct Password {
    digest: [u8; 32],
}

impl Password {
    /// The check for `password`.
    #[must_use]
    pub fn new(password: &Secret) -> Password {
        Password {
            digest: Sha256::digest(password.expose().as_bytes()).into(),
        }
    }

    /// Whether `given` is the password.
    #[must_use]
    pub fn matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        given.ct_eq(&self.digest).into()
    }

    /// Whether the request's headers carry basic auth with this password (any user name).
    #[must_use]
    pub fn authorizes(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, encoded)| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
            })
            .and_then(|decoded| String::from_utf8(decoded).ok());
        match given.as_deref().and_then(|text| text.split_once(':')) {
            Some((_, given)) => self.matches(given),
            None => false,
        }
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const PASSWORD: &str = "page-pw-52c7e-never-shown";

    fn password() -> Password {
        Password::new(&Secret::from(PASSWORD.to_owned()))
    }

    #[test]
    fn only_the_password_itself_matches() {
        let password = password();
        assert!(password.matches(PASSWORD), "right password");
        assert!(
            !password.matches("page-pw-52c7e-never-showN"),
            "wrong content, same length"
        );
        assert!(!password.matches(&format!("{PASSWORD}x")), "longer");
        assert!(!password.matches(&PASSWORD[..10]), "a prefix");
        assert!(!password.matches(""), "empty");
    }

    #[test]
    fn basic_auth_takes_any_user_name() {
        let password = password();
        let header = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        let basic = |credentials: &str| {
            header(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ))
        };
        assert!(password.authorizes(&basic(&format!("anyone:{PASSWORD}"))));
        assert!(password.authorizes(&basic(&format!(":{PASSWORD}"))));
        assert!(!password.authorizes(&basic(&format!("ops:{PASSWORD}x"))));
        assert!(!password.authorizes(&basic(PASSWORD)), "no colon");
        assert!(!password.authorizes(&header("Basic !!!not-base64")));
        assert!(!password.authorizes(&HeaderMap::new()));
    }

    #[test]
    fn debug_shows_nothing_of_the_password() {
        let shown = format!("{:?}", password());
        assert_eq!(shown, "Password([redacted])");
    }
}
