//! Log lines to stdout, one event a line, as text or JSON, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

use crate::cli::LogFormat;
use crate::clock::Clock;

/// Stamps each line with the daemon's clock: real time for `run`, simulated time for the demo.
#[derive(Debug, Clone, Copy)]
struct ClockTime(Option<Clock>);

impl FormatTime for ClockTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = self.0.map_or_else(chrono::Utc::now, |clock| clock.now());
        write!(
            w,
            "{}",
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    }
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`).
pub(crate) fn init(format: LogFormat, clock: Option<Clock>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_timer(ClockTime(clock));
    // A second init (only possible in tests) keeps the first subscriber; nothing to report.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
