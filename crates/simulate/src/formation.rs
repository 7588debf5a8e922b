//! The dynos running during a replay, started and stopped alike by the web replay ([`model`]) and
//! the queue replay ([`queue`]): a dyno serves a boot after its start, and a scale-in stops the
//! newest first, as Heroku's does.
//!
//! [`model`]: crate::model
//! [`queue`]: crate::queue

use crate::timeline::Scale;

/// The running dynos as (start, how many started then), oldest first: the newest stop first, and
/// the serving ones are a prefix. Groups, not one entry per dyno, so a `max` of thousands costs
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Formation {
    /// From a dyno's start to its serving, in nanoseconds.
    boot: i64,
    groups: Vec<(i64, u32)>,
}

impl Formation {
    /// No dyno yet; each started will serve `boot` nanoseconds later.
    pub(crate) fn new(boot: i64) -> Formation {
        Formation {
            boot,
            groups: Vec::new(),
        }
    }

    /// The formation before the trace: `quantity` dynos already serving at its first instant.
    pub(crate) fn start_with(&mut self, quantity: u32) {
        self.groups.clear();
        if quantity > 0 {
            self.groups.push((self.boot.saturating_neg(), quantity));
        }
    }

    /// The dynos running, booting ones included (what is paid for).
    pub(crate) fn running(&self) -> u32 {
        self.groups
            .iter()
            .fold(0, |sum, &(_, count)| sum.saturating_add(count))
    }

    /// The dynos serving at `now`, and when the next booting group starts serving.
    pub(crate) fn serving(&self, now: i64) -> (u32, Option<i64>) {
        let mut serving = 0u32;
        for &(start, count) in &self.groups {
            let ready = start.saturating_add(self.boot);
            if ready > now {
                return (serving, Some(ready));
            }
            serving = serving.saturating_add(count);
        }
        (serving, None)
    }

    /// Scales to `to` dynos at `now` (the ones added start booting then, the newest stop first)
    /// and returns the change, as the picture marks it.
    pub(crate) fn scale(&mut self, now: i64, to: u32, reason: String) -> Scale {
        let running = self.running();
        if to > running {
            self.groups.push((now, to - running));
        }
        let mut surplus = running.saturating_sub(to);
        while surplus > 0 {
            let Some(newest) = self.groups.last_mut() else {
                break;
            };
            let stopped = surplus.min(newest.1);
            newest.1 -= stopped;
            surplus -= stopped;
            if newest.1 == 0 {
                self.groups.pop();
            }
        }
        Scale {
            at: now,
            from: running,
            to,
            reason,
        }
    }
}
