//! Probes that could not be made: the fault is this process's or this machine's, not the app's.
//!
//! A probe that fails because the daemon has no file descriptor left, no memory, no free local
//! port, or cannot do TLS here says nothing about the app, and read as *down* it scaled a healthy
//! app to its maximum and sent an outage alert (issue 28). [`Prober::probe`](crate::Prober::probe)
//! returns these as a [`LocalFault`] instead of a result.

use std::fmt;
use std::io;

use crate::http::Failure;

/// Why a probe could not be made, through no fault of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalFault {
    /// The process or the system has no file descriptor left (`EMFILE`, `ENFILE`).
    Descriptors,
    /// The kernel had no memory or buffer space for the socket (`ENOMEM`, `ENOBUFS`).
    Memory,
    /// No local address or port was free to connect from (`EADDRNOTAVAIL`).
    LocalAddress,
    /// TLS could not be done here: no random bytes or no clock for the handshake.
    Tls,
}

impl LocalFault {
    /// The name `/metrics` and logs label it with: `descriptors`, `memory`, `local_address`,
    /// `tls`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Descriptors => "descriptors",
            Self::Memory => "memory",
            Self::LocalAddress => "local_address",
            Self::Tls => "tls",
        }
    }

    /// The fault behind an I/O error at any step of a probe, if the error is one of ours.
    fn of_io(error: &io::Error) -> Option<LocalFault> {
        if let Some(code) = error.raw_os_error() {
            return match code {
                libc::EMFILE | libc::ENFILE => Some(Self::Descriptors),
                libc::ENOMEM | libc::ENOBUFS => Some(Self::Memory),
                libc::EADDRNOTAVAIL => Some(Self::LocalAddress),
                _ => None,
            };
        }
        // tokio-rustls hands rustls's errors over inside an io::Error.
        let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
        matches!(
            tls,
            rustls::Error::FailedToGetRandomBytes | rustls::Error::FailedToGetCurrentTime
        )
        .then_some(Self::Tls)
    }

    /// The fault behind a failed exchange, if it is one of ours. A failure whose cause is not
    /// surely ours stays the app's: taking an outage for a local fault would hide it.
    pub(crate) fn of(failure: &Failure) -> Option<LocalFault> {
        match failure {
            Failure::Dns(error)
            | Failure::Connect(error)
            | Failure::Handshake(error)
            | Failure::Io(error) => Self::of_io(error),
            Failure::Closed | Failure::Protocol => None,
        }
    }
}

impl fmt::Display for LocalFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Descriptors => "no file descriptor left in this process or system",
            Self::Memory => "no memory or socket buffers left on this machine",
            Self::LocalAddress => "no local address or port free to connect from",
            Self::Tls => "TLS cannot be done on this machine (no random bytes or no clock)",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn our_own_shortages_are_local_faults_at_every_step() {
        for (code, fault) in [
            (libc::EMFILE, LocalFault::Descriptors),
            (libc::ENFILE, LocalFault::Descriptors),
            (libc::ENOMEM, LocalFault::Memory),
            (libc::ENOBUFS, LocalFault::Memory),
            (libc::EADDRNOTAVAIL, LocalFault::LocalAddress),
        ] {
            for failure in [
                Failure::Dns(os(code)),
                Failure::Connect(os(code)),
                Failure::Handshake(os(code)),
                Failure::Io(os(code)),
            ] {
                assert_eq!(LocalFault::of(&failure), Some(fault), "{failure:?}");
            }
        }
    }

    #[test]
    fn the_apps_failures_are_not_local_faults() {
        for code in [
            libc::ECONNREFUSED,
            libc::ECONNRESET,
            libc::ETIMEDOUT,
            libc::EHOSTUNREACH,
            libc::ENETUNREACH,
            libc::EPIPE,
        ] {
            assert_eq!(LocalFault::of(&Failure::Connect(os(code))), None, "{code}");
            assert_eq!(LocalFault::of(&Failure::Io(os(code))), None, "{code}");
        }
        assert_eq!(LocalFault::of(&Failure::Closed), None);
        assert_eq!(LocalFault::of(&Failure::Protocol), None);
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(LocalFault::of(&Failure::Io(eof)), None);
    }

    #[test]
    fn tls_is_ours_only_when_this_machine_cannot_do_it() {
        let wrapped = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        for ours in [
            rustls::Error::FailedToGetRandomBytes,
            rustls::Error::FailedToGetCurrentTime,
        ] {
            assert_eq!(
                LocalFault::of(&Failure::Handshake(wrapped(ours))),
                Some(LocalFault::Tls)
            );
        }
        // A certificate the app serves wrong is the app's, whatever else comes with it.
        for theirs in [
            rustls::Error::InvalidCertificate(rustls::CertificateError::Expired),
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
            rustls::Error::NoCertificatesPresented,
            rustls::Error::General("peer misbehaved".into()),
            rustls::Error::Other(rustls::OtherError(Arc::new(io::Error::other("x")))),
        ] {
            assert_eq!(LocalFault::of(&Failure::Handshake(wrapped(theirs))), None);
        }
    }

    #[test]
    fn faults_read_as_ours_in_logs() {
        assert_eq!(
            LocalFault::Descriptors.to_string(),
            "no file descriptor left in this process or system"
        );
        assert_eq!(LocalFault::LocalAddress.label(), "local_address");
    }
}
