//! What the server tasks and the [`FakeHeroku`](crate::FakeHeroku) handle share.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::state::State;

/// What the server tasks and the [`FakeHeroku`] handle share.
pub(crate) struct Shared {
    pub(crate) token: String,
    pub(crate) page_size: usize,
    pub(crate) state: Mutex<State>,
    /// Woken on every recorded request.
    pub(crate) recorded: Notify,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind, still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("token", &"[redacted]")
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}
