use std::time::Duration;

/// Everything that can go wrong in this crate.
///
/// No variant ever carries a secret: the SMTP URL (it holds the password) and the Twilio auth token
/// are never part of the text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value from the config that cannot be right: an email address, a phone number, a SID.
    #[error("{what} `{value}` cannot be right: expected {expected}")]
    Invalid {
        /// What the value is meant to be ("phone number", "Twilio account SID", ...).
        what: &'static str,
        /// The value as given.
        value: String,
        /// What a good value looks like.
        expected: &'static str,
    },
    /// The SMTP URL cannot be used. The URL itself is never shown: it carries the password.
    #[error("SMTP URL `[redacted]` cannot be used: {0}")]
    SmtpUrl(String),
    /// The email could not be put together (a header that lettre refuses).
    #[error("cannot build the email: {0}")]
    Email(#[from] lettre::error::Error),
    /// The SMTP server could not be reached or refused the message.
    #[error("SMTP: {0}")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// Twilio (or whatever answers at its URL) refused the message.
    #[error("Twilio refused the message: HTTP {status}{}: {message}{}",
        code.map(|c| format!(", error {c}")).unwrap_or_default(),
        more_info.as_ref().map(|m| format!(" (see {m})")).unwrap_or_default())]
    Twilio {
        /// The HTTP status.
        status: u16,
        /// Twilio's error code (20003 authentication, 21211 invalid `To`, 20429 too many
        /// requests, ...), when the body was Twilio's error object.
        code: Option<u32>,
        /// Twilio's message, or the start of the body when it was not Twilio's error object.
        message: String,
        /// Twilio's link to the error's documentation.
        more_info: Option<String>,
    },
    /// The HTTP request to Twilio failed before an answer came (connection, TLS, timeout).
    #[error("Twilio: {0}")]
    Http(#[source] reqwest::Error),
    /// One send did not finish in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl Error {
    /// Whether trying the same send again later may work: network trouble, timeouts, SMTP 4xx,
    /// HTTP 429 and 5xx. A refusal that will not change (a bad address, bad credentials) is not.
    /// Whether the send failed for want of this machine's resources (no file descriptor, memory
    /// or local port left): the fault is this process's, not the channel's, so it must not use up
    /// the tries (issue 28: an outage email given up on for `Too many open files`).
    pub(crate) fn is_local_fault(&self) -> bool {
        caused_locally(self)
    }

    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Smtp(e) => !(e.is_permanent() || e.is_client() || e.is_tls()),
            Self::Twilio { status, .. } => *status == 429 || *status >= 500,
            Self::Http(e) => !e.is_builder(),
            Self::Timeout(_) => true,
            Self::Invalid { .. } | Self::SmtpUrl(_) | Self::Email(_) => false,
        }
    }
}

/// Whether `error` or one of its causes is an I/O error that says this machine, not the other
/// end, ran out of something.
fn caused_locally(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.raw_os_error().is_some_and(is_local_errno)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// The errors that say this machine, not the other end, ran out of something.
fn is_local_errno(code: i32) -> bool {
    matches!(
        code,
        libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS | libc::EADDRNOTAVAIL
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transport error that keeps its I/O cause, as reqwest's and lettre's do, a layer or two
    /// down.
    #[derive(Debug, thiserror::Error)]
    #[error("connect failed")]
    struct Transport(#[source] std::io::Error);

    #[test]
    fn only_this_machines_shortages_are_local_faults() {
        for code in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOMEM,
            libc::ENOBUFS,
            libc::EADDRNOTAVAIL,
        ] {
            let error = Transport(std::io::Error::from_raw_os_error(code));
            assert!(caused_locally(&error), "{code}");
        }
        for code in [
            libc::ECONNREFUSED,
            libc::ETIMEDOUT,
            libc::EHOSTUNREACH,
            libc::ECONNRESET,
        ] {
            let error = Transport(std::io::Error::from_raw_os_error(code));
            assert!(
                !caused_locally(&error),
                "{code}: the other end's, or the network's"
            );
        }
        assert!(!Error::Timeout(Duration::from_secs(10)).is_local_fault());
    }
}
