//! Stoplight Prism serving Twilio's contract.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::closed_port;

/// Twilio's OpenAPI file, copied into this crate (see `contracts/README.md`).
const CONTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/contracts/twilio_api_v2010.json"
);
/// Prism as `npm ci --prefix scripts` installs it.
const PRISM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/node_modules/.bin/prism"
);

/// Stoplight Prism serving Twilio's OpenAPI file on a free loopback port: it answers 2xx only to a
/// request the contract allows (`--errors`). Killed on drop.
#[derive(Debug)]
pub struct Prism {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// Its base URL, `http://127.0.0.1:<port>/`.
    pub url: url::Url,
}

impl Prism {
    /// Starts Prism and waits until it says it listens (60 s at the most per try), trying another
    /// port if the one chosen was taken meanwhile. Panics if it cannot be started.
    pub async fn start() -> Prism {
        Prism::start_with(false).await
    }

    /// One Prism for the whole test binary, started by the first test that asks (the others wait
    /// for it), so that each test does not pay Node's seconds of start-up.
    ///
    /// Prism keeps no state between requests, so tests may share it. A static is never dropped:
    /// this one is started under a small shell that ends it when the test binary's end closes the
    /// shell's stdin, whether the binary exits or is killed.
    pub async fn shared() -> &'static Prism {
        static SHARED: tokio::sync::OnceCell<Prism> = tokio::sync::OnceCell::const_new();
        SHARED.get_or_init(|| Prism::start_with(true)).await
    }

    async fn start_with(until_we_exit: bool) -> Prism {
        assert!(
            std::path::Path::new(CONTRACT).is_file(),
            "Twilio's OpenAPI file is missing at {CONTRACT}: restore it with `git checkout crates/testkit/contracts`"
        );
        assert!(
            std::path::Path::new(PRISM).is_file(),
            "Stoplight Prism is not installed at {PRISM}: run `npm ci --prefix scripts` from the repository root"
        );
        // A free port can be taken by another test between our look and Prism's bind; Prism then
        // exits, and another port is tried.
        for _ in 0..5 {
            let port = closed_port();
            let starting =
                tokio::task::spawn_blocking(move || Prism::start_on(port, until_we_exit));
            let started = tokio::time::timeout(Duration::from_secs(60), starting)
                .await
                .expect("Prism neither said it listens nor exited within 60 s")
                .expect("the thread starting Prism panicked");
            if let Some(prism) = started {
                return prism;
            }
        }
        panic!("Prism did not start on any of 5 ports; try `npm ci --prefix scripts`");
    }

    /// Its base URL without the trailing slash, `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts Prism on `port` and waits for the line saying it listens: `None` if it exits first.
    /// `until_we_exit`: under a shell that kills it once its stdin, a pipe from this process,
    /// closes (the shell lets go of stdout, so that Prism's exit still ends the wait).
    fn start_on(port: u16, until_we_exit: bool) -> Option<Prism> {
        let port_arg = port.to_string();
        let prism = [
            PRISM,
            "mock",
            CONTRACT,
            "-h",
            "127.0.0.1",
            "-p",
            &port_arg,
            "--errors",
        ];
        let mut command = if until_we_exit {
            let mut shell = Command::new("sh");
            shell
                .args([
                    "-c",
                    r#""$@" & prism=$!; exec >&-; read -r _; kill "$prism""#,
                    "sh",
                ])
                .args(prism)
                .stdin(Stdio::piped());
            shell
        } else {
            let mut direct = Command::new(PRISM);
            direct.args(&prism[1..]).stdin(Stdio::null());
            direct
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start Prism: run `npm ci --prefix scripts`");
        let stdout = child.stdout.take().expect("Prism's stdout is piped");
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}"))
            .expect("a loopback URL with a port is a URL");
        let ready = format!("Prism is listening on http://127.0.0.1:{port}");
        let mut lines = BufReader::new(stdout).lines();
        let listening = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains(&ready));
        // Prism logs every request; the rest of its output is drained on a thread so that it never
        // blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let prism = Prism { child, port, url };
        listening.then_some(prism)
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
