//! Overrides and pauses in the running daemon: one reader per instance re-reads those running and
//! coming every lease round and publishes them; each app's decision task hands its own to its
//! decider as they change, and wakes at their starts and ends, so they apply on time whichever
//! instance holds the app and across restarts (they live in the database, not here).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{OverrideAction, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::clock::Clock;

/// Every override and pause running or coming, as last read.
pub(super) type Current = Arc<Vec<store::Override>>;

/// Reads the overrides every `round` until `shutdown`; a failed read keeps the last list (logged
/// once until a read works again).
pub(super) async fn read_every(
    store: Store,
    round: Duration,
    clock: Clock,
    current: watch::Sender<Current>,
    shutdown: CancellationToken,
) {
    let mut failing = false;
    loop {
        match store.current_overrides(clock.now()).await {
            Ok(list) => {
                failing = false;
                current.send_if_modified(|old| {
                    let changed = **old != list;
                    if changed {
                        *old = Arc::new(list);
                    }
                    changed
                });
            }
            Err(error) => {
                if !failing {
                    warn!(error = %error, "cannot read the overrides: going on with the last ones read");
                }
                failing = true;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = tokio::time::sleep(round) => {}
        }
    }
}

/// `key`'s overrides as the decider takes them.
pub(super) fn for_key(
    current: &[store::Override],
    key: &store::ProcessKey,
) -> Vec<policy::Override> {
    current
        .iter()
        .filter(|o| o.spec.key == *key)
        .map(|o| policy::Override {
            id: o.id,
            label: crate::overrides::label(o),
            kind: match o.spec.action {
                OverrideAction::Set { quantity, min, max } => {
                    policy::OverrideKind::Set { quantity, min, max }
                }
                _ => policy::OverrideKind::Pause,
            },
            from: o.spec.from,
            until: o.ends_at(),
            created_at: o.spec.created_at,
        })
        .collect()
}

/// The next instant after `now` at which one of `overrides` starts or ends, if any.
pub(super) fn next_edge(
    overrides: &[policy::Override],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    overrides
        .iter()
        .flat_map(|o| [Some(o.from), o.until])
        .flatten()
        .filter(|edge| *edge > now)
        .min()
}
