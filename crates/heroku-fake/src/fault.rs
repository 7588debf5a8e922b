//! How injected failures answer.

/// Heroku's message when it refuses a formation change during a release phase or a preboot
/// cutover ([`FakeHeroku::set_preboot`](crate::FakeHeroku::set_preboot)).
pub const PREBOOT_REFUSAL: &str =
    "Cannot change formation for a preboot app until release phase and preboot complete.";

/// How an injected failure answers (see [`FakeHeroku::fail_next`](crate::FakeHeroku::fail_next)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultOptions {
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u32>,
    /// Heroku's error `id`; by default derived from the status (`unauthorized`, `rate_limit`, ...).
    pub id: Option<String>,
    /// Heroku's error `message`; a fixed text by default.
    pub message: Option<String>,
    /// A raw body sent instead of Heroku's error JSON (to serve something that is not JSON, say).
    pub body: Option<String>,
}
