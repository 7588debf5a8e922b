//! Headless Chromium driven through the Chrome DevTools Protocol, to use the status page as a person
//! would: fill a form, click a button, read what the page shows.
//!
//! The protocol runs over `--remote-debugging-pipe`: Chromium reads commands on its descriptor 3
//! and writes answers and events on its descriptor 4, each a JSON object ended by a NUL byte. A
//! shell hands it this process's pipes as those descriptors, so no WebSocket client is needed.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long one protocol command may take to be answered: generous, for a loaded machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// One headless Chromium with one page open.
pub(super) struct Browser {
    child: Child,
    commands: ChildStdin,
    messages: Receiver<Value>,
    next_id: u64,
    session: String,
    profile: std::path::PathBuf,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens a blank page whose every request carries
    /// `headers` (e.g. the page's basic auth).
    pub(super) fn start(headers: &Value) -> Browser {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let profile = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "cdp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            // Descriptor 3 reads our stdin pipe, 4 writes to our stdout pipe; Chromium's own stdout
            // goes to its stderr, which is dropped.
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 1>&2"#)
            .arg(super::status_page::chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1280,1000",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let commands = child.stdin.take().unwrap();
        let mut answers = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut message = Vec::new();
            while answers.read_until(0, &mut message).unwrap_or(0) > 0 {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&message)
                    && tx.send(value).is_err()
                {
                    return;
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            commands,
            messages,
            next_id: 0,
            session: String::new(),
            profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser.call("Network.enable", json!({}));
        browser.call("Network.setExtraHTTPHeaders", json!({ "headers": headers }));
        browser
    }

    /// Sends `method` (to the page, once attached) and waits for its answer's `result`.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            command["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&command).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        self.commands.flush().unwrap();
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if message["id"] == id => {
                    assert!(message.get("error").is_none(), "{method} failed: {message}");
                    return message["result"].clone();
                }
                // An event, or the answer to another command.
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{method}: no answer in {ANSWER_WITHIN:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: Chromium is gone"),
            }
        }
    }

    /// Opens `url` in the page.
    pub(super) fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url }));
    }

    /// The value of `expression` run in the page (awaited when it is a promise).
    pub(super) fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy (not null, false, 0 or ""); returns its value.
    pub(super) async fn wait_for(&mut self, what: &str, expression: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.eval(expression);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "the page never showed {what}: {}",
                self.eval("document.body.innerText")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the page as it is now.
    pub(super) fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Asked to close, Chromium ends its helper processes too; killed only if it will not.
        let close = json!({"id": 0, "method": "Browser.close"});
        let mut bytes = serde_json::to_vec(&close).unwrap_or_default();
        bytes.push(0);
        let _ = self.commands.write_all(&bytes);
        let _ = self.commands.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
