//! The process's open files: the soft limit raised to the hard one at start, and a share of it kept
//! back from the status listener, so that however many strangers connect, the probes, the Platform
//! API client, the alerts and the database still get a descriptor (issue 28: a thousand idle
//! connections under the usual 1,024 once read as the app being down).

use tracing::{info, warn};

/// Descriptors kept for the daemon's own work whatever the number of apps: standard streams, the
/// runtime's epoll and wakers, the database (SQLite: three files for each of its two connections;
/// PostgreSQL: its pool), the Platform API client's pooled connections, SMTP, Twilio, DNS, and
/// room for the listener's one accepted connection beyond its cap, closed at once.
const RESERVED: u64 = 128;
/// Per app: its probe's socket, and the one that replaces it when a kept connection turns out
/// closed.
const PER_APP: u64 = 2;
/// The fewest connections the listener takes, even when the limit leaves less: a browser alone
/// opens six.
const LEAST_CONNECTIONS: usize = 8;
/// Linux refuses a soft limit above `fs.nr_open`, whose default this is, even when the hard limit
/// is unlimited.
const NR_OPEN_DEFAULT: u64 = 1 << 20;

/// The open-files limits after [`raise`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OpenFiles {
    pub(super) soft: u64,
    pub(super) hard: u64,
}

/// Raises the soft limit of open files to the hard limit, and logs both; `None` where the limit
/// cannot be read (then nothing is derived from it).
pub(super) fn raise() -> Option<OpenFiles> {
    let (soft, hard) = match rlimit::Resource::NOFILE.get() {
        Ok(limits) => limits,
        Err(error) => {
            warn!(%error, "cannot read the open-files limit");
            return None;
        }
    };
    let wanted = hard.min(NR_OPEN_DEFAULT).max(soft);
    if wanted == soft {
        info!(soft, hard, "open-files limit");
        return Some(OpenFiles { soft, hard });
    }
    match rlimit::Resource::NOFILE.set(wanted, hard) {
        Ok(()) => {
            info!(soft = wanted, was = soft, hard, "open-files limit raised");
            Some(OpenFiles { soft: wanted, hard })
        }
        Err(error) => {
            warn!(soft, hard, %error, "cannot raise the open-files limit");
            Some(OpenFiles { soft, hard })
        }
    }
}

/// How many connections the listener may hold at once: `configured` (`[http] max_connections`,
/// else `default`), but never so many that the daemon's own work for `apps` could go without a
/// descriptor under the soft limit.
pub(super) fn listener_cap(
    configured: Option<usize>,
    default: usize,
    files: Option<OpenFiles>,
    apps: usize,
) -> usize {
    let wanted = configured.unwrap_or(default);
    let Some(files) = files else {
        return wanted;
    };
    let reserve = RESERVED.saturating_add(PER_APP.saturating_mul(apps as u64));
    let room = usize::try_from(files.soft.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(LEAST_CONNECTIONS);
    if wanted <= room {
        return wanted;
    }
    if configured.is_some() {
        warn!(
            max_connections = wanted,
            cap = room,
            open_files = files.soft,
            reserved = reserve,
            "http.max_connections leaves too few open files for the probes, Heroku and alerts; the listener takes fewer"
        );
    }
    room
}

#[cfg(test)]
mod tests {
    use super::*;

    const USUAL: OpenFiles = OpenFiles {
        soft: 1024,
        hard: 1024,
    };

    #[test]
    fn the_listener_leaves_a_reserve_under_the_limit() {
        // One app under the usual 1,024: 1,024 - 128 - 2.
        assert_eq!(listener_cap(None, 1024, Some(USUAL), 1), 894);
        // 100 apps: two descriptors each come off.
        assert_eq!(listener_cap(None, 1024, Some(USUAL), 100), 696);
        // A configured cap within the room stands; one beyond it is cut to it.
        assert_eq!(listener_cap(Some(100), 1024, Some(USUAL), 1), 100);
        assert_eq!(listener_cap(Some(5000), 1024, Some(USUAL), 1), 894);
        // A raised limit leaves the default alone.
        let raised = OpenFiles {
            soft: 1 << 20,
            hard: 1 << 20,
        };
        assert_eq!(listener_cap(None, 1024, Some(raised), 1000), 1024);
    }

    #[test]
    fn a_limit_too_small_for_the_reserve_still_lets_the_page_be_read() {
        let tiny = OpenFiles {
            soft: 256,
            hard: 256,
        };
        assert_eq!(listener_cap(None, 1024, Some(tiny), 500), LEAST_CONNECTIONS);
    }

    #[test]
    fn an_unknown_limit_keeps_what_was_asked() {
        assert_eq!(listener_cap(None, 1024, None, 1), 1024);
        assert_eq!(listener_cap(Some(10), 1024, None, 1), 10);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        // Run in a child process, so this test binary's own limit is left alone: the child lowers
        // its soft limit with `ulimit -S -n` and the check reads it back after `raise`.
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("sh")
            .args([
                "-c",
                "ulimit -S -n 256 && exec \"$0\" --exact --nocapture daemon::descriptors::tests::child_raises_its_limit",
            ])
            .arg(exe)
            .env("AUTOSCALED_DESCRIPTORS_CHILD", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("1 passed"), "{stdout}");
    }

    /// The child of the test above; alone (no variable), it only checks that `raise` never lowers.
    #[test]
    fn child_raises_its_limit() {
        let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
        let files = raise().unwrap();
        assert_eq!(files.hard, hard);
        assert!(files.soft >= soft);
        if std::env::var_os("AUTOSCALED_DESCRIPTORS_CHILD").is_some() {
            assert_eq!(soft, 256, "the child starts low");
            assert_eq!(files.soft, hard.min(NR_OPEN_DEFAULT));
            assert_eq!(rlimit::Resource::NOFILE.get().unwrap().0, files.soft);
        }
    }
}
