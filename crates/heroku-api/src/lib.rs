//! A typed client for the Heroku Platform API v3: formations and apps, with retries and rate-limit
//! awareness.
//!
//! Start with [`Client::new`] (or [`Client::builder`] for another base URL, timeouts or a
//! [`RetryPolicy`]), then call [`Client::app_info`], [`Client::formation_list`],
//! [`Client::formation_info`], [`Client::formation_update`] or [`Client::formation_batch_update`].
//! Every failure is an [`Error`] that keeps Heroku's error `id`, `message` and `Request-Id`, and says
//! whether the token was refused ([`Error::is_credentials_rejected`]) or a retry may help
//! ([`Error::is_retryable`]). Transport failures, 429 and 5xx are retried with exponential backoff,
//! honouring `Retry-After`, which holds every later call of the client and its clones too until it
//! has passed ([`Client::held_until`]): they wait rather than spend the account's budget on
//! refusals. [`Client::rate_limit_remaining`] reports the account's request budget,
//! and [`Client::read_budget`] says how far periodic reads should spread out as it falls
//! ([`ReadBudget`]: it never delays a call by itself). [`DynoSize`] is Heroku's dyno sizes and
//! their published prices.
//!
//! The API token is a [`secret::Secret`]: it is sent in the `Authorization` header and appears in no
//! `Debug`, `Display`, error or log text.
//!
//! Requests go out through a [`Transport`]: reqwest over the network unless
//! [`ClientBuilder::transport`] gives another, such as `heroku-fake`'s `InProcess`, which answers
//! in the same process so that tests on tokio's paused clock involve no socket. The per-request
//! timeout wraps every transport on tokio's clock.
//!
//! ```no_run
//! # async fn scale() -> Result<(), autoscaled_heroku_api::Error> {
//! use autoscaled_heroku_api::{Client, FormationUpdate};
//! use secret::Secret;
//!
//! let client = Client::new(Secret::new(std::env::var("HEROKU_API_KEY").unwrap_or_default()))?;
//! let web = client
//!     .formation_update("my-app", "web", &FormationUpdate { quantity: Some(3), dyno_size: None })
//!     .await?;
//! println!("{} now runs {} dynos; {:?} API calls left", web.process_type, web.quantity,
//!     client.rate_limit_remaining());
//! # Ok(())
//! # }
//! ```

mod budget;
mod client;
mod dyno_size;
mod error;
mod retry;
mod start;
mod transport;
mod types;

pub use budget::{ACCOUNT_RATE_LIMIT, REFILL_PER_MINUTE, ReadBudget, ReadPace};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use dyno_size::DynoSize;
pub use error::{ApiError, Error};
pub use retry::RetryPolicy;
pub use start::{AppSnapshot, SnapshotError};
pub use transport::{Transport, TransportError, TransportFuture};
pub use types::{App, AppRef, BatchUpdate, DynoSizeRef, Formation, FormationUpdate};
