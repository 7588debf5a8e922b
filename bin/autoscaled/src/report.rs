//! `autoscaled status`: each app's saved state and the overrides and pauses running or coming, read
//! from the database without changing it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use store::{Access, Store};

use crate::cli::StatusArgs;
use crate::config::{Config, config_path};
use crate::{Failure, overrides};

/// An instance whose heartbeat is older than this is not counted as holding anything.
const LIVE_WITHIN: Duration = Duration::from_secs(180);

pub(crate) fn run(config: &Option<PathBuf>, args: StatusArgs) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    let now = chrono::Utc::now();
    let runtime = crate::runtime()?;
    let report = runtime.block_on(async {
        let store = Store::open(config.state.url.expose(), Access::ReadOnly)
            .await
            .context("cannot read the state database")?;
        let report = store.status_report(args.decisions, LIVE_WITHIN).await;
        let overrides = store.current_overrides(now).await;
        store.close().await;
        let report = report.context("cannot read the state database")?;
        Ok::<_, anyhow::Error>((report, overrides.context("cannot read the state database")?))
    });
    let (report, overrides) = report.map_err(Failure::Fatal)?;
    if args.json {
        let mut json = serde_json::to_value(&report)
            .context("cannot write JSON")
            .map_err(Failure::Fatal)?;
        json["overrides"] = overrides
            .iter()
            .map(|o| overrides::to_json(o, now))
            .collect();
        println!("{json}");
    } else {
        print!("{report}");
        if overrides.is_empty() {
            println!("no override or pause running or coming");
        } else {
            println!("overrides and pauses running or coming:");
            for record in &overrides {
                println!("  {}", overrides::describe(record, now));
            }
        }
    }
    Ok(())
}
