//! `/metrics`: typed Prometheus families (the `prometheus-client` crate), written in the Prometheus
//! text format, version 0.0.4.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `autoscaled_probe_duration_seconds` | histogram | `app`, `process` |
//! | `autoscaled_probes_total` | counter | `app`, `process`, `class` (down, slow, normal, fast) |
//! | `autoscaled_probe_local_faults_total` | counter (probes not made, for a fault of this machine: no descriptor, memory or local port) | `app`, `process` |
//! | `autoscaled_baseline_dynos`, `autoscaled_target_dynos`, `autoscaled_actual_dynos` | gauge | `app`, `process` |
//! | `autoscaled_outage` | gauge (1 during an outage) | `app`, `process` |
//! | `autoscaled_queue_ready_jobs`, `autoscaled_queue_busy_jobs` | gauge (a worker's jobs ready, due ones included, and running, at the last read of its queues) | `app`, `process` |
//! | `autoscaled_queue_latency_seconds` | gauge (the age of the oldest ready job at that read) | `app`, `process` |
//! | `autoscaled_scale_calls_total` | counter | `app`, `process`, `outcome` (ok, failed) |
//! | `autoscaled_alerts_total` | counter | `channel` (email, sms), `outcome` (sent, failed) |
//! | `autoscaled_alerts_suppressed_total` | counter | `reason` (held_back, dropped) |
//! | `autoscaled_alert_local_faults_total` | counter (sends failed for a fault of this machine, tried again) | |
//! | `autoscaled_heroku_ratelimit_remaining` | gauge | |
//! | `autoscaled_history_bytes` | gauge (the heap the charts' 24 h history holds) | |
//!
//! The per-app families live in the [`Board`](crate::Board) and are updated as it is written;
//! the alert counters and the rate limit are read from [`Readings`] at each scrape. Latencies are in
//! the daemon's clock's time. `autoscaled_actual_dynos` is absent until Heroku has been read, the
//! alert series when no channel is configured, and the rate limit until the first call.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use probe::Class;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::Readings;
use crate::board::{AppStatus, QueueView};

/// Upper bounds, in seconds, of the probe latency histogram's buckets (`+Inf` is implied).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 30.0, 60.0, 120.0,
];

/// The probe classes with their label values, in the order they are listed.
const CLASSES: [(Class, &str); 4] = [
    (Class::Down, "down"),
    (Class::Slow, "slow"),
    (Class::Normal, "normal"),
    (Class::Fast, "fast"),
];

/// The name a probe class is shown and labelled with: down, slow, normal or fast.
#[must_use]
pub fn class_name(class: Class) -> &'static str {
    CLASSES
        .iter()
        .find(|(c, _)| *c == class)
        .map_or("down", |(_, name)| name)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct AppLabels {
    app: String,
    process: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeLabels {
    app: String,
    process: String,
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScaleLabels {
    app: String,
    process: String,
    outcome: &'static str,
}

type HistogramFamily = Family<AppLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The families the board writes; cheap to clone (each is shared).
#[derive(Debug, Clone)]
pub(crate) struct Families {
    latency: HistogramFamily,
    probes: Family<ProbeLabels, Counter>,
    local_faults: Family<AppLabels, Counter>,
    baseline: Family<AppLabels, Gauge>,
    target: Family<AppLabels, Gauge>,
    actual: Family<AppLabels, Gauge>,
    outage: Family<AppLabels, Gauge>,
    scale_calls: Family<ScaleLabels, Counter>,
    queue_ready: Family<AppLabels, Gauge>,
    queue_busy: Family<AppLabels, Gauge>,
    queue_latency: Family<AppLabels, Gauge<f64, AtomicU64>>,
}

impl Default for Families {
    fn default() -> Self {
        Families {
            latency: Family::new_with_constructor(latency_histogram),
            probes: Family::default(),
            local_faults: Family::default(),
            baseline: Family::default(),
            target: Family::default(),
            actual: Family::default(),
            outage: Family::default(),
            scale_calls: Family::default(),
            queue_ready: Family::default(),
            queue_busy: Family::default(),
            queue_latency: Family::default(),
        }
    }
}

impl Families {
    pub(crate) fn labels(app: &str, process: &str) -> AppLabels {
        AppLabels {
            app: app.to_owned(),
            process: process.to_owned(),
        }
    }

    /// Creates an app's series at zero, so a scrape shows every class and outcome from the start.
    pub(crate) fn add(&self, labels: &AppLabels) {
        let _ = self.latency.get_or_create(labels);
        for (class, _) in CLASSES {
            let _ = self.probes.get_or_create(&probe_labels(labels, class));
        }
        let _ = self.local_faults.get_or_create(labels);
        for ok in [true, false] {
            let _ = self.scale_calls.get_or_create(&scale_labels(labels, ok));
        }
    }

    pub(crate) fn probe(&self, labels: &AppLabels, class: Class, seconds: f64) {
        self.latency.get_or_create(labels).observe(seconds);
        self.probes
            .get_or_create(&probe_labels(labels, class))
            .inc();
    }

    pub(crate) fn local_fault(&self, labels: &AppLabels) {
        self.local_faults.get_or_create(labels).inc();
    }

    pub(crate) fn scale_call(&self, labels: &AppLabels, ok: bool) {
        self.scale_calls
            .get_or_create(&scale_labels(labels, ok))
            .inc();
    }

    /// Sets a worker's queue gauges from a reading; a figure its backend does not record is left
    /// out rather than shown as 0.
    pub(crate) fn queue(&self, labels: &AppLabels, view: &QueueView) {
        self.queue_ready
            .get_or_create(labels)
            .set(i64::try_from(view.ready).unwrap_or(i64::MAX));
        if let Some(busy) = view.busy {
            self.queue_busy
                .get_or_create(labels)
                .set(i64::try_from(busy).unwrap_or(i64::MAX));
        }
        if let Some(latency) = view.latency {
            self.queue_latency
                .get_or_create(labels)
                .set(latency.as_secs_f64());
        }
    }

    /// Sets the gauges from an app's status.
    pub(crate) fn status(&self, labels: &AppLabels, status: &AppStatus) {
        self.baseline
            .get_or_create(labels)
            .set(i64::from(status.baseline));
        self.target
            .get_or_create(labels)
            .set(i64::from(status.target));
        if let Some(actual) = status.actual {
            self.actual.get_or_create(labels).set(i64::from(actual));
        }
        self.outage
            .get_or_create(labels)
            .set(i64::from(status.outage_since.is_some()));
    }

    /// A registry of these families, the history's size and what `readings` counts.
    pub(crate) fn registry(&self, history_bytes: Gauge, readings: Arc<dyn Readings>) -> Registry {
        let mut registry = Registry::default();
        registry.register(
            "autoscaled_probe_duration_seconds",
            "Time to the whole response of each probe",
            self.latency.clone(),
        );
        registry.register(
            "autoscaled_probes",
            "Probe results by class",
            self.probes.clone(),
        );
        registry.register(
            "autoscaled_probe_local_faults",
            "Probes not made for a fault of this machine (no descriptor, memory or local port), never counted as down",
            self.local_faults.clone(),
        );
        registry.register(
            "autoscaled_baseline_dynos",
            "The schedule's quantity now",
            self.baseline.clone(),
        );
        registry.register(
            "autoscaled_target_dynos",
            "The quantity autoscaled wants",
            self.target.clone(),
        );
        registry.register(
            "autoscaled_actual_dynos",
            "The quantity Heroku last reported",
            self.actual.clone(),
        );
        registry.register(
            "autoscaled_outage",
            "1 while the app is down (fail-safe engaged), else 0",
            self.outage.clone(),
        );
        registry.register(
            "autoscaled_scale_calls",
            "Formation updates, by outcome after retries",
            self.scale_calls.clone(),
        );
        registry.register(
            "autoscaled_queue_ready_jobs",
            "A worker's jobs ready to run (due scheduled and retrying ones included) at the last read of its queues",
            self.queue_ready.clone(),
        );
        registry.register(
            "autoscaled_queue_busy_jobs",
            "A worker's jobs running at the last read of its queues, where the backend records them",
            self.queue_busy.clone(),
        );
        registry.register(
            "autoscaled_queue_latency_seconds",
            "The age of a worker's oldest ready job at the last read of its queues, where the backend stores it",
            self.queue_latency.clone(),
        );
        registry.register(
            "autoscaled_history_bytes",
            "Memory held by the status page's 24-hour history",
            history_bytes,
        );
        registry.register_collector(Box::new(Outside(readings)));
        registry
    }
}

fn probe_labels(labels: &AppLabels, class: Class) -> ProbeLabels {
    ProbeLabels {
        app: labels.app.clone(),
        process: labels.process.clone(),
        class: class_name(class),
    }
}

fn scale_labels(labels: &AppLabels, ok: bool) -> ScaleLabels {
    ScaleLabels {
        app: labels.app.clone(),
        process: labels.process.clone(),
        outcome: if ok { "ok" } else { "failed" },
    }
}

/// The series read from the daemon at each scrape: alerts and Heroku's rate limit.
#[derive(Debug)]
struct Outside(Arc<dyn Readings>);

impl Collector for Outside {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(stats) = self.0.alerts() {
            let mut family = encoder.encode_descriptor(
                "autoscaled_alerts",
                "Alerts per recipient, by channel and outcome.",
                None,
                MetricType::Counter,
            )?;
            for (channel, outcome, count) in [
                ("email", "sent", stats.email_sent),
                ("email", "failed", stats.email_failed),
                ("sms", "sent", stats.sms_sent),
                ("sms", "failed", stats.sms_failed),
            ] {
                let labels = [("channel", channel), ("outcome", outcome)];
                ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
            }
            let mut family = encoder.encode_descriptor(
                "autoscaled_alerts_suppressed",
                "Alerts not sent: a repeat held back, or dropped.",
                None,
                MetricType::Counter,
            )?;
            for (reason, count) in [("held_back", stats.held_back), ("dropped", stats.dropped)] {
                ConstCounter::new(count).encode(family.encode_family(&[("reason", reason)])?)?;
            }
            let counter = ConstCounter::new(stats.local_faults);
            counter.encode(encoder.encode_descriptor(
                "autoscaled_alert_local_faults",
                "Alert sends that failed for a fault of this machine (no descriptor, memory or local port), tried again.",
                None,
                counter.metric_type(),
            )?)?;
        }
        if let Some(remaining) = self.0.heroku_rate_limit_remaining() {
            let gauge = ConstGauge::new(i64::from(remaining));
            gauge.encode(encoder.encode_descriptor(
                "autoscaled_heroku_ratelimit_remaining",
                "Heroku's RateLimit-Remaining at the last call.",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

/// The registry's exposition in the Prometheus text format, version 0.0.4.
pub(crate) fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail, and every metric above encodes.
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, registry) {
        tracing::warn!(error = %e, "cannot write the metrics");
    }
    text
}
