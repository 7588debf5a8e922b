//! What the end-to-end tests put around the built binary beyond the workspace's testkit (which
//! holds the parts the daemon bench shares: the app server, config files, the binary as a child
//! process): the binary's path, the SMTP server logged into as the configs say, and what the fake
//! Heroku saw.

use heroku_fake::FakeHeroku;
pub(crate) use testkit::config::{
    API_KEY, Alerts, AppConfig, MAIL_TO, ProbeConfig, SMS_TO, SMTP_PASSWORD, SMTP_USER,
    assert_no_secret, write_config, write_file,
};
pub(crate) use testkit::{AppServer, Daemon, Mode};
use testkit::{MailServer, SmtpOptions};

/// The unit of the tests' bounded waits.
pub(crate) const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a daemon may take to start its apps: a second or less on an idle machine, several on
/// one loaded by builds beside the tests. Only a wait, never a verdict on speed.
pub(crate) const START: std::time::Duration = std::time::Duration::from_secs(30);

/// Keeps the tests that load the machine most, or that a loaded machine would fail, apart.
///
/// [`Heavy::lock`] is for a test that must run beside no other heavy one: the connection flood,
/// which takes the cores, and the demo, whose sped-up clock turns a starved second into minutes of
/// late probes. [`Heavy::share`] is for tests that run several daemons against one database and
/// time a promise (the fleet's fail-over, an override obeyed within a round): they idle mostly, so
/// they run beside each other, but never beside a test that holds the lock.
///
/// Sharers go first: one that comes while another shares joins it even when a `lock` waits, so
/// the sharers, which start together (they sort together), make one stretch, not several. Those
/// that lock go in the order they came: a waiting test holds one of libtest's threads, so the one
/// waiting longest goes next.
pub(crate) static HEAVY: Heavy = Heavy {
    holders: std::sync::Mutex::new(Holders {
        sharing: 0,
        alone: false,
        tickets: 0,
        serving: 0,
    }),
    released: tokio::sync::Notify::const_new(),
};

/// See [`HEAVY`].
pub(crate) struct Heavy {
    holders: std::sync::Mutex<Holders>,
    released: tokio::sync::Notify,
}

struct Holders {
    sharing: usize,
    alone: bool,
    /// Tickets handed to the tests that lock, in the order they asked.
    tickets: u64,
    /// The ticket whose turn it is.
    serving: u64,
}

/// Held while a test runs under [`HEAVY`]; dropping it lets the waiting tests on.
#[must_use]
pub(crate) struct HeavyGuard {
    heavy: &'static Heavy,
    shared: bool,
}

impl Heavy {
    /// Waits until no other heavy test runs; held until the guard drops.
    pub(crate) async fn lock(&'static self) -> HeavyGuard {
        self.take(false).await
    }

    /// Waits until no test holds [`lock`](Self::lock); others may share meanwhile.
    pub(crate) async fn share(&'static self) -> HeavyGuard {
        self.take(true).await
    }

    async fn take(&'static self, shared: bool) -> HeavyGuard {
        let ticket = (!shared).then(|| {
            let mut holders = self
                .holders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            holders.tickets += 1;
            holders.tickets - 1
        });
        loop {
            // Registered before the check, so a release between the check and the wait wakes it.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut holders = self
                    .holders
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let free = match ticket {
                    None => !holders.alone,
                    Some(ticket) => {
                        !holders.alone && holders.sharing == 0 && holders.serving == ticket
                    }
                };
                if free {
                    if shared {
                        holders.sharing += 1;
                    } else {
                        holders.alone = true;
                    }
                    return HeavyGuard {
                        heavy: self,
                        shared,
                    };
                }
            }
            released.await;
        }
    }
}

impl Drop for HeavyGuard {
    fn drop(&mut self) {
        {
            // A test that failed while holding it must not poison the others' verdicts.
            let mut holders = self
                .heavy
                .holders
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if self.shared {
                holders.sharing -= 1;
            } else {
                holders.alone = false;
                holders.serving += 1;
            }
        }
        self.heavy.released.notify_waiters();
    }
}

/// The binary under test, built by cargo alongside this test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_autoscaled");

/// An SMTP server on 127.0.0.1 that requires AUTH PLAIN as [`SMTP_USER`] / [`SMTP_PASSWORD`] and
/// accepts every mail.
pub(crate) fn mail_server() -> MailServer {
    MailServer::start(SmtpOptions::default().with_auth(SMTP_USER, SMTP_PASSWORD))
}

/// The quantities of every PATCH the fake received for `app`'s web formation, in order.
pub(crate) fn patches(fake: &FakeHeroku, app: &str) -> Vec<u64> {
    let path = format!("/apps/{app}/formation/web");
    fake.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path == path)
        .map(|r| {
            r.body
                .as_ref()
                .and_then(|b| b["quantity"].as_u64())
                .unwrap()
        })
        .collect()
}

/// A fresh fake Heroku holding `app`'s web formation at `quantity`.
pub(crate) async fn heroku(app: &str, quantity: u32) -> FakeHeroku {
    let fake = FakeHeroku::start(API_KEY).await.unwrap();
    fake.set_formation(app, "web", quantity);
    fake
}

/// Waits until the daemon has started the app and the app server has answered a few probes.
pub(crate) async fn probing(daemon: &Daemon, app: &AppServer) {
    daemon.wait_for_line(&["started"], START).await;
    let seen = app.hits().len();
    daemon
        .wait_until("two more probes", 5 * SECOND, || {
            (app.hits().len() >= seen + 2).then_some(())
        })
        .await;
}
