//! `/metrics`: the Prometheus text exposition format (version 0.0.4), written by hand.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `autoscaled_probe_duration_seconds` | histogram | `app`, `process` |
//! | `autoscaled_probes_total` | counter | `app`, `process`, `class` (down, slow, normal, fast) |
//! | `autoscaled_baseline_dynos`, `autoscaled_target_dynos`, `autoscaled_actual_dynos` | gauge | `app`, `process` |
//! | `autoscaled_outage` | gauge (1 during an outage) | `app`, `process` |
//! | `autoscaled_scale_calls_total` | counter | `app`, `process`, `outcome` (ok, failed) |
//! | `autoscaled_alerts_total` | counter | `channel` (email, sms), `outcome` (sent, failed) |
//! | `autoscaled_alerts_suppressed_total` | counter | `reason` (held_back, dropped) |
//! | `autoscaled_heroku_ratelimit_remaining` | gauge | |
//! | `autoscaled_history_bytes` | gauge (the heap the charts' 24 h history holds) | |
//!
//! Latencies are in the daemon's clock's time. `autoscaled_actual_dynos` is absent until Heroku has
//! been read, the alert series when no channel is configured, and the rate limit until the first call.

use std::fmt::Write as _;

use crate::status::{AppStatus, CLASSES, Counters, LATENCY_BUCKETS};

/// Reads one gauge's value off an app's status; `None` leaves the series out.
type Reading = fn(&AppStatus) -> Option<u32>;

/// The whole exposition.
pub(super) fn render(
    apps: &[(AppStatus, Counters)],
    alerts: Option<notify::Stats>,
    rate_limit_remaining: Option<u32>,
    history_bytes: usize,
) -> String {
    let mut out = String::new();
    let labels = |s: &AppStatus| {
        format!(
            "app=\"{}\",process=\"{}\"",
            escape(&s.app),
            escape(&s.process)
        )
    };

    header(
        &mut out,
        "autoscaled_probe_duration_seconds",
        "histogram",
        "Time to the whole response of each probe.",
    );
    for (status, counters) in apps {
        let labels = labels(status);
        let mut cumulative = 0;
        for (bound, count) in LATENCY_BUCKETS.iter().zip(&counters.latency_buckets) {
            cumulative += count;
            let _ = writeln!(
                out,
                "autoscaled_probe_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
            );
        }
        let total: u64 = counters.latency_buckets.iter().sum();
        let _ = writeln!(
            out,
            "autoscaled_probe_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}"
        );
        let _ = writeln!(
            out,
            "autoscaled_probe_duration_seconds_sum{{{labels}}} {}",
            counters.latency_sum
        );
        let _ = writeln!(
            out,
            "autoscaled_probe_duration_seconds_count{{{labels}}} {total}"
        );
    }

    header(
        &mut out,
        "autoscaled_probes_total",
        "counter",
        "Probe results by class.",
    );
    for (status, counters) in apps {
        for ((_, class), count) in CLASSES.iter().zip(counters.probes) {
            let _ = writeln!(
                out,
                "autoscaled_probes_total{{{},class=\"{class}\"}} {count}",
                labels(status)
            );
        }
    }

    let gauges: [(&str, &str, Reading); 4] = [
        (
            "autoscaled_baseline_dynos",
            "The schedule's quantity now.",
            |s| Some(s.baseline),
        ),
        (
            "autoscaled_target_dynos",
            "The quantity autoscaled wants.",
            |s| Some(s.target),
        ),
        (
            "autoscaled_actual_dynos",
            "The quantity Heroku last reported.",
            |s| s.actual,
        ),
        (
            "autoscaled_outage",
            "1 while the app is down (fail-safe engaged), else 0.",
            |s| Some(u32::from(s.outage_since.is_some())),
        ),
    ];
    for (name, help, value) in gauges {
        header(&mut out, name, "gauge", help);
        for (status, _) in apps {
            if let Some(v) = value(status) {
                let _ = writeln!(out, "{name}{{{}}} {v}", labels(status));
            }
        }
    }

    header(
        &mut out,
        "autoscaled_scale_calls_total",
        "counter",
        "Formation updates, by outcome after retries.",
    );
    for (status, counters) in apps {
        let labels = labels(status);
        let _ = writeln!(
            out,
            "autoscaled_scale_calls_total{{{labels},outcome=\"ok\"}} {}",
            counters.scale_ok
        );
        let _ = writeln!(
            out,
            "autoscaled_scale_calls_total{{{labels},outcome=\"failed\"}} {}",
            counters.scale_failed
        );
    }

    if let Some(stats) = alerts {
        header(
            &mut out,
            "autoscaled_alerts_total",
            "counter",
            "Alerts per recipient, by channel and outcome.",
        );
        for (channel, outcome, count) in [
            ("email", "sent", stats.email_sent),
            ("email", "failed", stats.email_failed),
            ("sms", "sent", stats.sms_sent),
            ("sms", "failed", stats.sms_failed),
        ] {
            let _ = writeln!(
                out,
                "autoscaled_alerts_total{{channel=\"{channel}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        header(
            &mut out,
            "autoscaled_alerts_suppressed_total",
            "counter",
            "Alerts not sent: a repeat held back, or dropped.",
        );
        let _ = writeln!(
            out,
            "autoscaled_alerts_suppressed_total{{reason=\"held_back\"}} {}",
            stats.held_back
        );
        let _ = writeln!(
            out,
            "autoscaled_alerts_suppressed_total{{reason=\"dropped\"}} {}",
            stats.dropped
        );
    }

    if let Some(remaining) = rate_limit_remaining {
        header(
            &mut out,
            "autoscaled_heroku_ratelimit_remaining",
            "gauge",
            "Heroku's RateLimit-Remaining at the last call.",
        );
        let _ = writeln!(out, "autoscaled_heroku_ratelimit_remaining {remaining}");
    }
    header(
        &mut out,
        "autoscaled_history_bytes",
        "gauge",
        "Memory held by the status page's 24-hour history.",
    );
    let _ = writeln!(out, "autoscaled_history_bytes {history_bytes}");
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the format wants it: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
