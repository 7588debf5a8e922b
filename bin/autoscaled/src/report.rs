//! `autoscaled status`: each app's saved state, read from the database without changing it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use store::{Access, Store};

use crate::Failure;
use crate::cli::StatusArgs;
use crate::config::{Config, config_path};

/// An instance whose heartbeat is older than this is not counted as holding anything.
const LIVE_WITHIN: Duration = Duration::from_secs(180);

pub(crate) fn run(config: &Option<PathBuf>, args: StatusArgs) -> Result<(), Failure> {
    let config = Config::load(&config_path(config.clone()))?;
    let runtime = crate::runtime()?;
    let report = runtime.block_on(async {
        let store = Store::open(config.state.url.expose(), Access::ReadOnly)
            .await
            .context("cannot read the state database")?;
        let report = store.status_report(args.decisions, LIVE_WITHIN).await;
        store.close().await;
        report.context("cannot read the state database")
    });
    let report = report.map_err(Failure::Fatal)?;
    if args.json {
        let json = serde_json::to_string(&report).context("cannot write JSON");
        println!("{}", json.map_err(Failure::Fatal)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
