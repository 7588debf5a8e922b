//! The built `autoscaled` binary as a child process, its stdout and stderr captured line by line.
//! The caller says which binary: `env!("CARGO_BIN_EXE_autoscaled")` in an integration test or a
//! bench, or another build (the daemon bench honours `AUTOSCALED_BIN`).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::assert_no_secret;

/// How often the wait loops look again.
const POLL: Duration = Duration::from_millis(20);

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// From the signal (for [`Daemon::stop`]) or the start, to the exit.
    pub took: Duration,
}

/// The binary running as a child process, its stdout and stderr captured as they come.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `BIN ARGS` (`bin` an `autoscaled` binary) in a clean environment: nothing from the
    /// caller's environment reaches the config, and logs are at `info`.
    pub fn spawn(bin: impl AsRef<OsStr>, args: &[&str]) -> Daemon {
        Daemon::spawn_with_env(bin, args, &[])
    }

    /// Like [`spawn`](Self::spawn), with `env` set on top (e.g. `SSL_CERT_FILE`, through which
    /// the daemon trusts [`crate::tls`]'s certificate).
    pub fn spawn_with_env(bin: impl AsRef<OsStr>, args: &[&str], env: &[(&str, &OsStr)]) -> Daemon {
        let mut command = Command::new(bin);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("AUTOSCALED")
                || name.starts_with("HEROKU_")
                || name.starts_with("TWILIO_")
                || name == "PORT"
                || name == "DATABASE_URL"
                || name == "DYNO"
            {
                command.env_remove(name.as_ref());
            }
        }
        command.env("RUST_LOG", "info");
        command.envs(env.iter().copied());
        let mut child = command.spawn().unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            capture(child.stdout.take().unwrap(), Arc::clone(&stdout)),
            capture(child.stderr.take().unwrap(), Arc::clone(&stderr)),
        ];
        Daemon {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// `BIN --config PATH run`.
    pub fn run(bin: impl AsRef<OsStr>, config: &Path) -> Daemon {
        Daemon::spawn(bin, &["--config", config.to_str().unwrap(), "run"])
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn both(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            self.stdout(),
            self.stderr.lock().unwrap()
        )
    }

    /// Polls `check` every 20 ms until it gives a value; after `within`, fails the test showing what
    /// the binary printed.
    pub async fn wait_until<T>(
        &self,
        what: &str,
        within: Duration,
        check: impl FnMut() -> Option<T>,
    ) -> T {
        crate::poll_until(what, within, POLL, check, || self.both()).await
    }

    /// Waits for a stdout line holding every one of `needles`, and returns it.
    pub async fn wait_for_line(&self, needles: &[&str], within: Duration) -> String {
        let what = format!("a log line with {needles:?}");
        self.wait_until(&what, within, || {
            self.stdout()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
                .map(str::to_owned)
        })
        .await
    }

    /// Waits for the process to exit by itself, failing the test after `within`.
    pub async fn finish(mut self, within: Duration) -> Finished {
        self.exit(Instant::now(), within).await
    }

    /// Sends SIGTERM and waits for the exit; the interface promises one within 5 s.
    pub async fn stop(mut self) -> Finished {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(kill.success(), "kill -TERM failed");
        self.exit(sent, Duration::from_secs(5)).await
    }

    async fn exit(&mut self, since: Instant, within: Duration) -> Finished {
        let deadline = since + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the binary did not exit within {within:?}\n{}",
                self.both()
            );
            tokio::time::sleep(POLL).await;
        };
        let took = since.elapsed();
        // The pipes close with the process: the readers are done (or about to be) once it exited.
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let finished = Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr.lock().unwrap().clone(),
            took,
        };
        assert_no_secret("stdout", &finished.stdout);
        assert_no_secret("stderr", &finished.stderr);
        finished
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn capture(
    pipe: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    })
}
