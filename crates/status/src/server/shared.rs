//! What every handler of the listener is given.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;

use super::auth::Password;
use crate::Sources;

#[derive(Debug, Clone)]
pub(super) struct AppState {
    pub(super) sources: Sources,
    pub(super) password: Option<Arc<Password>>,
    pub(super) registry: Arc<Registry>,
    /// How long a request body may take to arrive ([`Limits::body_timeout`](crate::Limits)).
    pub(super) body_timeout: Duration,
}
