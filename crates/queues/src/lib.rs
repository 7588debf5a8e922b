//! Reads job queues straight from an app's own datastore, read-only, with no code in the app.
//!
//! For each configured queue a [`Reader`] reads its depth (jobs ready to run), its latency (the age
//! of the oldest ready job), the jobs busy (running now) where the backend records them, and the
//! scheduled or retrying jobs already due, exactly as each library stores its jobs:
//!
//! | [`Backend`] | store | latency from |
//! | --- | --- | --- |
//! | Sidekiq 6–8 | Redis | the oldest job's `enqueued_at` (float seconds before 8.0, integer ms from 8.0) |
//! | RQ | Redis | the oldest job hash's `enqueued_at` |
//! | BullMQ | Redis | the oldest waiting job's `timestamp` + `delay` |
//! | Celery | Redis | only with a `properties.published_at` the app adds |
//! | Resque | Redis | none (no timestamp is stored) |
//! | GoodJob, Solid Queue, Que, Delayed::Job, River, Oban | PostgreSQL | their tables' ready rows |
//!
//! Start with [`Reader::connect`] and [`Reader::read`]:
//!
//! ```no_run
//! # async fn demo() -> Result<(), autoscaled_queues::Error> {
//! use autoscaled_queues::{Backend, Reader};
//! use secret::Secret;
//!
//! let url = Secret::new(std::env::var("MY_APP_REDIS_URL").unwrap_or_default());
//! let reader = Reader::connect(Backend::Sidekiq, &url, vec!["default".into()]).await?;
//! let reading = reader.read(chrono::Utc::now()).await?;
//! for queue in &reading.queues {
//!     println!("{}: {} ready, oldest {:?}", queue.name, queue.depth, queue.latency);
//! }
//! # Ok(()) }
//! ```
//!
//! An app that moved its library's keys or tables (BullMQ's `prefix`, Resque's namespace, Oban's
//! schema, ...) is read with [`Reader::connect_with`] and [`Options`].
//!
//! Light on the datastore: a Redis poll is one or two pipelined round trips of O(1) or O(log n)
//! reads (`LLEN`, `LINDEX`, `ZCOUNT`, `HMGET`, ...), never `KEYS`, a scan or a range over a whole
//! list or set; a PostgreSQL poll is one statement by the backends' own indexes, in a read-only
//! transaction with a statement timeout. The datastore URL is a [`secret::Secret`]: it appears in
//! no error, log or `Debug`.

mod backend;
mod error;
mod naming;
mod parse;
mod postgres;
mod reader;
mod reading;
mod redis;

pub use backend::{Backend, Reads, Store};
pub use error::Error;
pub use reader::{Options, Reader};
pub use reading::{DEPTH_CAP, QueueReading, READ_TIMEOUT, Reading};
