//! What `tracing` logs on the test's own thread, captured for the test to read.
//!
//! A scoped subscriber (`tracing::subscriber::set_default`) in one test races the other tests of
//! the same binary, which log on other threads with no subscriber: tracing caches each callsite's
//! interest for every dispatcher at once, and a callsite first reached while the scoped one is
//! being registered can stay cached as "never", so the captured text misses lines at random (it
//! did on a loaded machine). Instead, one global subscriber is installed once per binary; its
//! filter passes only the events of threads that are capturing, and its writer appends them to
//! that thread's [`Logs`].

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

thread_local! {
    static CAPTURING: RefCell<Option<Logs>> = const { RefCell::new(None) };
}

/// Everything logged on this thread (at any level, without colour codes) while its
/// [`Capturing`] guard lives. Tests on a current-thread runtime see their spawned tasks' lines too.
#[derive(Debug, Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Installs the binary's one subscriber, if not yet done. Every test of a binary that captures
    /// logs calls this before it logs anything (its common helpers do): a callsite first reached
    /// before the subscriber exists may keep a cached "never" (tracing's interest cache is racy
    /// when the global dispatcher is set while other threads register callsites).
    pub fn install() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| ThreadWriter)
                .with_filter(CapturingThreads);
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in a test binary that captures logs");
        });
    }

    /// Starts capturing this thread's logs until the guard is dropped.
    pub fn capture() -> (Logs, Capturing) {
        Logs::install();
        let logs = Logs::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(logs.clone()));
        (logs, Capturing(std::marker::PhantomData))
    }

    /// What this thread has captured so far ("" when it does not capture): for the message of a
    /// helper that fails a test without its [`Logs`] at hand.
    pub fn current() -> String {
        CAPTURING.with(|c| c.borrow().as_ref().map(Logs::text).unwrap_or_default())
    }

    /// The text captured so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The captured lines that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// Stops the capture of its thread when dropped; it stays on the thread that made it.
#[derive(Debug)]
pub struct Capturing(std::marker::PhantomData<*const ()>);

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURING.with(|c| *c.borrow_mut() = None);
    }
}

/// Passes the events of capturing threads only. Its interest in every callsite is "sometimes":
/// whether a thread captures changes from test to test, so no answer may be cached (a
/// `filter_fn` may be asked once, at a callsite's registration, on a thread that does not
/// capture, and its "no" would then hold for every thread).
struct CapturingThreads;

impl<S> tracing_subscriber::layer::Filter<S> for CapturingThreads {
    fn enabled(&self, _: &Metadata<'_>, _: &tracing_subscriber::layer::Context<'_, S>) -> bool {
        CAPTURING.with(|c| c.borrow().is_some())
    }

    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
}

/// Appends to the capture of the thread that logs, if any.
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURING.with(|c| {
            if let Some(logs) = c.borrow().as_ref()
                && let Ok(mut bytes) = logs.0.lock()
            {
                bytes.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
