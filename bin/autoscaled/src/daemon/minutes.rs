//! One app's minute history, made by its decision task: each minute's probes are counted as they
//! come, and the minute is closed with the quantities the task knows, the drain's traffic figures
//! and the last reading of a worker's queues. The row goes to the store's writer and a copy to
//! the board, whose charts show it until the store has it.

use chrono::{DateTime, Utc};
use probe::Class;
use store::{HistoryRow, MinuteFigures, ProcessKey};

/// The minute under way, and the figures the next row takes.
#[derive(Debug)]
pub(super) struct Minutes {
    key: ProcessKey,
    figures: MinuteFigures,
    /// The last reading of a worker's queues.
    queue: Option<LastQueue>,
}

/// What a minute's row takes of a reading of a worker's queues.
#[derive(Debug, Clone, Copy)]
struct LastQueue {
    at: DateTime<Utc>,
    ready: u64,
    busy: Option<u64>,
    oldest_ms: Option<f64>,
}

/// What the decision task knows as a minute closes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quantities {
    pub(super) actual: Option<u32>,
    pub(super) target: u32,
    pub(super) baseline: u32,
}

impl Minutes {
    pub(super) fn new(key: ProcessKey) -> Minutes {
        Minutes {
            key,
            figures: MinuteFigures::default(),
            queue: None,
        }
    }

    /// Counts a probe of the minute under way: `latency` in the clock's time.
    pub(super) fn probe(&mut self, class: Class, latency: std::time::Duration) {
        let latency = (class != Class::Down).then_some(latency.as_secs_f64() * 1000.0);
        self.figures
            .probe(latency, class == Class::Down, class == Class::Slow);
    }

    /// Keeps the last reading of the worker's queues for the minute's row.
    pub(super) fn queue(&mut self, reading: &policy::QueueReading) {
        let totals = reading.totals();
        self.queue = Some(LastQueue {
            at: reading.at,
            ready: totals.ready,
            busy: totals.busy_known.then_some(totals.busy),
            oldest_ms: totals.oldest.map(|l| l.as_secs_f64() * 1000.0),
        });
    }

    /// When `at` is past the minute being counted, that minute's row, with the quantities as they
    /// stand (call it before handling an event of `at`) and the drain's traffic figures; the first
    /// call only starts counting.
    pub(super) fn close(
        &mut self,
        at: DateTime<Utc>,
        quantities: Quantities,
        drains: &status::Drains,
    ) -> Option<HistoryRow> {
        let mut row = self.figures.roll(
            at,
            &self.key,
            quantities.actual,
            quantities.target,
            quantities.baseline,
        )?;
        // Read only when a minute closes, not at every event.
        if let Some(figures) = drains.figures(&self.key.app, &self.key.process, at) {
            row.requests = Some(figures.requests_last_minute);
            row.in_flight = Some(figures.stable.in_flight);
        }
        // The minute's last reading of a worker's queues, if one came within it.
        if let Some(queue) = self.queue.filter(|queue| queue.at >= row.minute) {
            row.queue_ready = Some(queue.ready);
            row.queue_busy = queue.busy;
            row.queue_latency_ms = queue.oldest_ms;
        }
        Some(row)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails at its first surprise")]

    use std::time::Duration;

    use chrono::TimeDelta;
    use policy::{QueueFigures, QueueReading};

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    const QUANTITIES: Quantities = Quantities {
        actual: Some(2),
        target: 3,
        baseline: 1,
    };

    #[test]
    fn a_minute_closes_with_its_probes_quantities_and_last_queue_reading() {
        let mut minutes = Minutes::new(ProcessKey::new("shop", "worker"));
        let drains = status::Drains::off();
        assert_eq!(
            minutes.close(t0(), QUANTITIES, &drains),
            None,
            "starts counting"
        );
        minutes.probe(Class::Fast, Duration::from_millis(120));
        minutes.probe(Class::Down, Duration::from_secs(30));
        let reading = |at, depth| QueueReading {
            at,
            queues: vec![QueueFigures {
                name: "default".into(),
                depth,
                latency: Some(Duration::from_secs(depth)),
                busy: Some(7),
                due: 1,
            }],
        };
        minutes.queue(&reading(t0() + TimeDelta::seconds(10), 40));
        minutes.queue(&reading(t0() + TimeDelta::seconds(50), 12));
        assert_eq!(
            minutes.close(t0() + TimeDelta::seconds(59), QUANTITIES, &drains),
            None,
            "the minute is not over"
        );
        let row = minutes
            .close(t0() + TimeDelta::seconds(61), QUANTITIES, &drains)
            .unwrap();
        assert_eq!((row.probes, row.probes_down), (2, 1));
        assert_eq!(
            row.latency_max_ms,
            Some(120.0),
            "a down probe has no latency"
        );
        assert_eq!((row.actual, row.target, row.baseline), (Some(2), 3, 1));
        assert_eq!(
            row.queue_ready,
            Some(13),
            "the last reading, due jobs included"
        );
        assert_eq!(row.queue_busy, Some(7));
        assert_eq!(row.queue_latency_ms, Some(12_000.0));
        // The next minute had no reading: no queue figures, rather than the last minute's again.
        let next = minutes
            .close(t0() + TimeDelta::seconds(125), QUANTITIES, &drains)
            .unwrap();
        assert_eq!((next.queue_ready, next.probes), (None, 0));
    }
}
