//! The Redis backends: Sidekiq, RQ, BullMQ, Celery and Resque, read as each stores its jobs.
//!
//! A poll is one pipeline of O(1) or O(log n) reads for every queue, and a second one where the
//! oldest job is named by an id (RQ, BullMQ) or the running jobs sit behind a list of workers
//! (Sidekiq, Resque). Pipelines run with `ignore_errors`, so a key of the wrong type is reported
//! for the queue and key it belongs to.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Pipeline, Value};
use secret::Secret;

use crate::parse::{self, Problem};
use crate::reading::{QueueReading, READ_TIMEOUT, Reading};
use crate::{Backend, Error};

/// One connection to the app's Redis, shared by every queue read from it; it reconnects by itself
/// after a failure.
#[derive(Clone)]
pub(crate) struct RedisQueues {
    connection: ConnectionManager,
    keys: Keys,
}

/// What every key the library writes starts with: Sidekiq's redis-namespace `NS:` (none by
/// default), BullMQ's `PREFIX:` (`bull:`), Resque's `NAMESPACE:` (`resque:`), kombu's
/// `global_keyprefix` as it is (none); RQ's are always `rq:…`, written out where used.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    /// `prefix` was checked by `Backend::check_prefix`: only backends that have one get one.
    fn new(backend: Backend, prefix: Option<&str>) -> Self {
        let prefix = match (backend, prefix) {
            (Backend::Celery, Some(prefix)) => prefix.to_owned(),
            (_, Some(prefix)) => format!("{prefix}:"),
            (Backend::Bullmq, None) => "bull:".to_owned(),
            (Backend::Resque, None) => "resque:".to_owned(),
            (_, None) => String::new(),
        };
        Self { prefix }
    }

    fn of(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl RedisQueues {
    pub(crate) async fn connect(
        backend: Backend,
        url: &Secret,
        prefix: Option<&str>,
    ) -> Result<Self, Error> {
        let url = client_url(url.expose()).map_err(|problem| Error::Url { backend, problem })?;
        let client = redis::Client::open(url).map_err(|_| Error::Url {
            backend,
            problem: "expected redis://[user:password@]host[:port][/db] or rediss://…".to_owned(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(READ_TIMEOUT))
            .set_response_timeout(Some(READ_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|source| Error::Redis { backend, source })?;
        Ok(Self {
            connection,
            keys: Keys::new(backend, prefix),
        })
    }

    pub(crate) async fn read(
        &self,
        backend: Backend,
        queues: &[String],
        now: DateTime<Utc>,
    ) -> Result<Reading, Error> {
        let mut connection = self.connection.clone();
        let keys = &self.keys;
        let listed;
        let queues = if queues.is_empty() {
            listed = list_queues(&mut connection, backend, keys).await?;
            &listed
        } else {
            queues
        };
        match backend {
            Backend::Sidekiq => sidekiq(&mut connection, keys, queues, now).await,
            Backend::Rq => rq(&mut connection, queues, now).await,
            Backend::Bullmq => bullmq(&mut connection, keys, queues, now).await,
            Backend::Celery => celery(&mut connection, keys, queues, now).await,
            Backend::Resque => resque(&mut connection, keys, queues).await,
            _ => Err(Error::Url {
                backend,
                problem: "expected a postgres:// URL: this backend keeps its jobs in PostgreSQL"
                    .to_owned(),
            }),
        }
    }
}

/// The URL redis-rs is given: the app's, with Heroku's documented way of skipping certificate
/// verification (`?ssl_cert_reqs=none`, as its Python guide writes it) turned into redis-rs's
/// (`#insecure`). Every other `rediss://` URL is verified.
fn client_url(url: &str) -> Result<String, String> {
    let mut url = url::Url::parse(url).map_err(|_| {
        "expected redis://[user:password@]host[:port][/db] or rediss://…".to_owned()
    })?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err(format!(
            "its scheme is {:?}, expected redis:// or rediss://",
            url.scheme()
        ));
    }
    let mut insecure = false;
    let mut kept = Vec::new();
    for (name, value) in url.query_pairs() {
        if name == "ssl_cert_reqs" {
            match value.to_ascii_lowercase().as_str() {
                "none" | "cert_none" => insecure = true,
                "required" | "cert_required" => {}
                _ => {
                    return Err(format!(
                        "ssl_cert_reqs is {value:?}, expected none (skip certificate \
                         verification) or required"
                    ));
                }
            }
        } else {
            kept.push((name.into_owned(), value.into_owned()));
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    if insecure && url.scheme() == "rediss" {
        url.set_fragment(Some("insecure"));
    }
    Ok(url.into())
}

/// Every queue the backend lists: Sidekiq's `queues`, RQ's `rq:queues` (full keys), Resque's
/// `resque:queues`; Celery has none, and its default queue is `celery`.
async fn list_queues(
    connection: &mut ConnectionManager,
    backend: Backend,
    keys: &Keys,
) -> Result<Vec<String>, Error> {
    let (key, prefix) = match backend {
        Backend::Sidekiq | Backend::Resque => (keys.of("queues"), ""),
        Backend::Rq => ("rq:queues".to_owned(), "rq:queue:"),
        Backend::Celery => return Ok(vec!["celery".to_owned()]),
        _ => return Err(Error::QueuesRequired { backend }),
    };
    let mut batch = Batch::new(backend);
    let set = batch.add("(all)", &key, "a set of queue names", "SMEMBERS", &key, &[]);
    let replies = batch.run(connection).await?;
    let mut queues: Vec<String> = replies
        .strings(set)?
        .into_iter()
        .map(|name| {
            String::from_utf8_lossy(&name)
                .trim_start_matches(prefix)
                .to_owned()
        })
        .collect();
    queues.sort();
    Ok(queues)
}

/// A pipeline whose replies are each checked against what the library stores at the key.
struct Batch {
    backend: Backend,
    pipe: Pipeline,
    slots: Vec<Slot>,
}

struct Slot {
    queue: String,
    key: String,
    expected: &'static str,
}

impl Batch {
    fn new(backend: Backend) -> Self {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        Self {
            backend,
            pipe,
            slots: Vec::new(),
        }
    }

    /// Adds `command key args…`, read for `queue`; returns its reply's index.
    fn add(
        &mut self,
        queue: &str,
        key: &str,
        expected: &'static str,
        command: &str,
        first: &str,
        args: &[&str],
    ) -> usize {
        self.pipe.cmd(command).arg(first).arg(args);
        self.slots.push(Slot {
            queue: queue.to_owned(),
            key: key.to_owned(),
            expected,
        });
        self.slots.len() - 1
    }

    async fn run(self, connection: &mut ConnectionManager) -> Result<Replies, Error> {
        let backend = self.backend;
        let values: Vec<Value> = if self.slots.is_empty() {
            Vec::new()
        } else {
            self.pipe
                .query_async(connection)
                .await
                .map_err(|source| Error::Redis { backend, source })?
        };
        Ok(Replies {
            backend,
            values,
            slots: self.slots,
        })
    }
}

struct Replies {
    backend: Backend,
    values: Vec<Value>,
    slots: Vec<Slot>,
}

impl Replies {
    fn value(&self, index: usize) -> Result<&Value, Error> {
        match self.values.get(index) {
            Some(Value::ServerError(error)) if error.code() == "WRONGTYPE" => {
                Err(self.wrong(index))
            }
            Some(Value::ServerError(error)) => Err(Error::Redis {
                backend: self.backend,
                source: error.clone().into(),
            }),
            Some(value) => Ok(value),
            None => Err(self.wrong(index)),
        }
    }

    /// The queue, key and expectation a reply was read for.
    fn slot(&self, index: usize) -> (&str, &str, &'static str) {
        self.slots
            .get(index)
            .map_or(("(unknown)", "(unknown)", "a reply"), |slot| {
                (slot.queue.as_str(), slot.key.as_str(), slot.expected)
            })
    }

    fn wrong(&self, index: usize) -> Error {
        let (queue, key, expected) = self.slot(index);
        Error::WrongType {
            backend: self.backend,
            queue: queue.to_owned(),
            key: key.to_owned(),
            expected,
        }
    }

    fn malformed(&self, index: usize, key: Option<&str>, problem: Problem) -> Error {
        let (queue, slot_key, _) = self.slot(index);
        Error::MalformedJob {
            backend: self.backend,
            queue: queue.to_owned(),
            key: key.unwrap_or(slot_key).to_owned(),
            what: problem.what,
            found: problem.found,
            expected: problem.expected,
        }
    }

    /// An integer reply (`LLEN`, `ZCOUNT`, `ZCARD`, `HEXISTS`), never negative.
    fn count(&self, index: usize) -> Result<u64, Error> {
        match self.value(index)? {
            Value::Int(count) => u64::try_from(*count).map_err(|_| self.wrong(index)),
            _ => Err(self.wrong(index)),
        }
    }

    /// A string reply or nil (`LINDEX`, `HGET`, `GET`).
    fn string(&self, index: usize) -> Result<Option<Vec<u8>>, Error> {
        match self.value(index)? {
            Value::Nil => Ok(None),
            Value::BulkString(bytes) => Ok(Some(bytes.clone())),
            Value::SimpleString(text) => Ok(Some(text.clone().into_bytes())),
            _ => Err(self.wrong(index)),
        }
    }

    /// The strings of an array or set reply (`SMEMBERS`, `HVALS`, `MGET`, `HMGET`); nils are
    /// `None`.
    fn strings_or_nil(&self, index: usize) -> Result<Vec<Option<Vec<u8>>>, Error> {
        let items = match self.value(index)? {
            Value::Array(items) | Value::Set(items) => items,
            _ => return Err(self.wrong(index)),
        };
        items
            .iter()
            .map(|item| match item {
                Value::Nil => Ok(None),
                Value::BulkString(bytes) => Ok(Some(bytes.clone())),
                Value::SimpleString(text) => Ok(Some(text.clone().into_bytes())),
                _ => Err(self.wrong(index)),
            })
            .collect()
    }

    fn strings(&self, index: usize) -> Result<Vec<Vec<u8>>, Error> {
        Ok(self.strings_or_nil(index)?.into_iter().flatten().collect())
    }
}

fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

fn epoch_seconds(now: DateTime<Utc>) -> String {
    (now.timestamp_micros() as f64 / 1e6).to_string()
}

fn queue_reading(name: &str) -> QueueReading {
    QueueReading {
        name: name.to_owned(),
        depth: 0,
        depth_exact: true,
        latency: None,
        busy: None,
        due: None,
        paused: false,
    }
}

/// Sidekiq (lib/sidekiq/api.rb), every key under a redis-namespace `NS:` where the app has one:
/// LIST `queue:NAME`, LPUSH in and BRPOP out, so the oldest job is
/// at index -1; ZSETs `schedule` and `retry` scored by epoch seconds hold due jobs of every queue;
/// each running process (SET `processes`) keeps one JSON record per running job in HASH
/// `<identity>:work`, naming its queue.
async fn sidekiq(
    connection: &mut ConnectionManager,
    keys: &Keys,
    queues: &[String],
    now: DateTime<Utc>,
) -> Result<Reading, Error> {
    const JOB_LIST: &str = "a list of Sidekiq jobs";
    let mut batch = Batch::new(Backend::Sidekiq);
    let mut per_queue = Vec::new();
    for queue in queues {
        let key = keys.of(&format!("queue:{queue}"));
        let depth = batch.add(queue, &key, JOB_LIST, "LLEN", &key, &[]);
        let oldest = batch.add(queue, &key, JOB_LIST, "LINDEX", &key, &["-1"]);
        per_queue.push((depth, oldest, key));
    }
    let now_s = epoch_seconds(now);
    let zset = "a sorted set of jobs scored by epoch seconds";
    let (schedule, retry, processes) =
        (keys.of("schedule"), keys.of("retry"), keys.of("processes"));
    let schedule = batch.add(
        "(all)",
        &schedule,
        zset,
        "ZCOUNT",
        &schedule,
        &["-inf", &now_s],
    );
    let retry = batch.add("(all)", &retry, zset, "ZCOUNT", &retry, &["-inf", &now_s]);
    let processes = batch.add(
        "(all)",
        &processes,
        "a set of process identities",
        "SMEMBERS",
        &processes,
        &[],
    );
    let replies = batch.run(connection).await?;

    let mut readings = Vec::new();
    for (queue, (depth, oldest, key)) in queues.iter().zip(per_queue) {
        let mut reading = queue_reading(queue);
        reading.depth = replies.count(depth)?;
        if let Some(job) = replies.string(oldest)? {
            let enqueued = parse::sidekiq_enqueued_at(&job)
                .map_err(|problem| replies.malformed(oldest, Some(&key), problem))?;
            reading.latency = Some(age(now, enqueued));
        } else {
            reading.latency = Some(Duration::ZERO);
        }
        readings.push(reading);
    }
    let due_shared = replies.count(schedule)? + replies.count(retry)?;

    let mut work = Batch::new(Backend::Sidekiq);
    let mut hashes = Vec::new();
    for identity in replies.strings(processes)? {
        let key = keys.of(&format!("{}:work", String::from_utf8_lossy(&identity)));
        let index = work.add("(all)", &key, "a hash of running jobs", "HVALS", &key, &[]);
        hashes.push((index, key));
    }
    let work = work.run(connection).await?;
    let mut busy: HashMap<String, u64> = HashMap::new();
    for (index, key) in hashes {
        for record in work.strings(index)? {
            let queue = parse::running_queue(&record)
                .map_err(|problem| work.malformed(index, Some(&key), problem))?;
            *busy.entry(queue).or_default() += 1;
        }
    }
    for reading in &mut readings {
        reading.busy = Some(busy.get(&reading.name).copied().unwrap_or(0));
    }
    Ok(Reading {
        queues: readings,
        due_shared: Some(due_shared),
    })
}

/// RQ 2.x (rq/queue.py, job.py, registry.py): LIST `rq:queue:NAME` of job ids, RPUSH in and LPOP
/// out (oldest at index 0); HASH `rq:job:<id>` with `enqueued_at`; ZSET `rq:scheduled:NAME` scored
/// by the epoch second the job is due; ZSET `rq:wip:NAME` of running jobs scored by the epoch
/// second their heartbeat expires (`+inf` without a timeout).
async fn rq(
    connection: &mut ConnectionManager,
    queues: &[String],
    now: DateTime<Utc>,
) -> Result<Reading, Error> {
    const IDS: &str = "a list of RQ job ids";
    const ZSET: &str = "a sorted set of RQ job ids scored by epoch seconds";
    let mut batch = Batch::new(Backend::Rq);
    let now_s = epoch_seconds(now);
    let open_now = format!("({now_s}");
    let mut per_queue = Vec::new();
    for queue in queues {
        let key = format!("rq:queue:{queue}");
        let depth = batch.add(queue, &key, IDS, "LLEN", &key, &[]);
        let oldest = batch.add(queue, &key, IDS, "LINDEX", &key, &["0"]);
        let scheduled = format!("rq:scheduled:{queue}");
        let due = batch.add(
            queue,
            &scheduled,
            ZSET,
            "ZCOUNT",
            &scheduled,
            &["-inf", &now_s],
        );
        let wip = format!("rq:wip:{queue}");
        let busy = batch.add(queue, &wip, ZSET, "ZCOUNT", &wip, &[&open_now, "+inf"]);
        per_queue.push((depth, oldest, due, busy));
    }
    let replies = batch.run(connection).await?;

    let mut readings = Vec::new();
    let mut jobs = Batch::new(Backend::Rq);
    let mut oldest_jobs = Vec::new();
    for (queue, (depth, oldest, due, busy)) in queues.iter().zip(per_queue) {
        let mut reading = queue_reading(queue);
        reading.depth = replies.count(depth)?;
        reading.due = Some(replies.count(due)?);
        reading.busy = Some(replies.count(busy)?);
        reading.latency = Some(Duration::ZERO);
        if let Some(id) = replies.string(oldest)? {
            let key = format!("rq:job:{}", String::from_utf8_lossy(&id));
            let index = jobs.add(
                queue,
                &key,
                "an RQ job hash",
                "HGET",
                &key,
                &["enqueued_at"],
            );
            oldest_jobs.push((readings.len(), index));
        }
        readings.push(reading);
    }
    let jobs = jobs.run(connection).await?;
    for (reading, index) in oldest_jobs {
        // A job deleted while its id waits in the list (RQ skips those when it dequeues) has no
        // hash: its age is unknown until the next poll sees the next job.
        readings[reading].latency = match jobs.string(index)? {
            Some(enqueued_at) => {
                let enqueued = parse::rq_enqueued_at(&enqueued_at)
                    .map_err(|problem| jobs.malformed(index, None, problem))?;
                Some(age(now, enqueued))
            }
            None => None,
        };
    }
    Ok(Reading {
        queues: readings,
        due_shared: None,
    })
}

/// BullMQ 5–6 (src/classes/queue-keys.ts, commands/*.lua), prefix `bull` unless the app's `prefix`
/// option says otherwise: LIST `bull:NAME:wait`
/// of job ids, LPUSH in and RPOP out (oldest at -1); ZSET `prioritized` of ready jobs with a
/// priority; LIST `paused` (before 5.x a paused queue's jobs moved there; now HASH `meta` holds
/// `paused` and they stay in `wait`); LIST `active` of running jobs; ZSET `delayed` scored by
/// (epoch ms due) × 0x1000 + a counter; HASH `bull:NAME:<id>` with `timestamp` and `delay`.
async fn bullmq(
    connection: &mut ConnectionManager,
    keys: &Keys,
    queues: &[String],
    now: DateTime<Utc>,
) -> Result<Reading, Error> {
    const IDS: &str = "a list of BullMQ job ids";
    const ZSET: &str = "a sorted set of BullMQ job ids";
    let mut batch = Batch::new(Backend::Bullmq);
    // Every delayed job due at or before this millisecond scores below the next one's base.
    let due_below = now
        .timestamp_millis()
        .saturating_add(1)
        .saturating_mul(0x1000)
        .saturating_sub(1)
        .to_string();
    let mut per_queue = Vec::new();
    for queue in queues {
        let key = |part: &str| keys.of(&format!("{queue}:{part}"));
        let (wait, prioritized, paused, active, delayed, meta) = (
            key("wait"),
            key("prioritized"),
            key("paused"),
            key("active"),
            key("delayed"),
            key("meta"),
        );
        per_queue.push([
            batch.add(queue, &wait, IDS, "LLEN", &wait, &[]),
            batch.add(queue, &prioritized, ZSET, "ZCARD", &prioritized, &[]),
            batch.add(queue, &paused, IDS, "LLEN", &paused, &[]),
            batch.add(queue, &wait, IDS, "LINDEX", &wait, &["-1"]),
            batch.add(queue, &active, IDS, "LLEN", &active, &[]),
            batch.add(
                queue,
                &delayed,
                ZSET,
                "ZCOUNT",
                &delayed,
                &["-inf", &due_below],
            ),
            batch.add(
                queue,
                &meta,
                "a hash of queue settings",
                "HEXISTS",
                &meta,
                &["paused"],
            ),
        ]);
    }
    let replies = batch.run(connection).await?;

    let mut readings = Vec::new();
    let mut jobs = Batch::new(Backend::Bullmq);
    let mut oldest_jobs = Vec::new();
    for (queue, [wait, prioritized, paused, oldest, active, due, meta]) in
        queues.iter().zip(per_queue)
    {
        let mut reading = queue_reading(queue);
        let legacy_paused = replies.count(paused)?;
        reading.depth = replies.count(wait)? + replies.count(prioritized)? + legacy_paused;
        reading.busy = Some(replies.count(active)?);
        reading.due = Some(replies.count(due)?);
        reading.paused = replies.count(meta)? == 1 || legacy_paused > 0;
        reading.latency = Some(Duration::ZERO);
        if let Some(id) = replies.string(oldest)? {
            let key = keys.of(&format!("{queue}:{}", String::from_utf8_lossy(&id)));
            let index = jobs.add(
                queue,
                &key,
                "a BullMQ job hash",
                "HMGET",
                &key,
                &["timestamp", "delay"],
            );
            oldest_jobs.push((readings.len(), index));
        } else if reading.depth > 0 {
            // Only prioritized (or legacy paused) jobs wait: their order is by priority, and the
            // oldest of them cannot be found without a walk.
            reading.latency = None;
        }
        readings.push(reading);
    }
    let jobs = jobs.run(connection).await?;
    for (reading, index) in oldest_jobs {
        let fields = jobs.strings_or_nil(index)?;
        readings[reading].latency = match fields.as_slice() {
            // A job removed while its id waits: unknown this poll.
            [None, _] => None,
            [timestamp, delay] => {
                let ready = parse::bullmq_ready_at(timestamp.as_deref(), delay.as_deref())
                    .map_err(|problem| jobs.malformed(index, None, problem))?;
                Some(age(now, ready))
            }
            _ => return Err(jobs.wrong(index)),
        };
    }
    Ok(Reading {
        queues: readings,
        due_shared: None,
    })
}

/// Celery on kombu's Redis transport (kombu/transport/redis.py): a LIST named after the queue, and
/// one per priority step (`NAME\x06\x163`, `\x06\x166`, `\x06\x169`); LPUSH in, RPOP out (oldest
/// at -1); with the transport option `global_keyprefix`, kombu's client puts it before every key.
/// Messages carry a publish time only where the app adds `properties.published_at`.
async fn celery(
    connection: &mut ConnectionManager,
    keys: &Keys,
    queues: &[String],
    now: DateTime<Utc>,
) -> Result<Reading, Error> {
    const MESSAGES: &str = "a list of kombu messages";
    let mut batch = Batch::new(Backend::Celery);
    let mut per_queue = Vec::new();
    for queue in queues {
        let lists = [
            keys.of(queue),
            keys.of(&format!("{queue}\x06\x163")),
            keys.of(&format!("{queue}\x06\x166")),
            keys.of(&format!("{queue}\x06\x169")),
        ];
        let slots: Vec<(usize, usize)> = lists
            .iter()
            .map(|list| {
                (
                    batch.add(queue, list, MESSAGES, "LLEN", list, &[]),
                    batch.add(queue, list, MESSAGES, "LINDEX", list, &["-1"]),
                )
            })
            .collect();
        per_queue.push(slots);
    }
    let replies = batch.run(connection).await?;
    let mut readings = Vec::new();
    for (queue, slots) in queues.iter().zip(per_queue) {
        let mut reading = queue_reading(queue);
        let mut oldest: Option<DateTime<Utc>> = None;
        let mut untimed = false;
        for (depth, head) in slots {
            reading.depth += replies.count(depth)?;
            if let Some(message) = replies.string(head)? {
                match parse::celery_published_at(&message)
                    .map_err(|problem| replies.malformed(head, None, problem))?
                {
                    Some(published) => {
                        oldest = Some(oldest.map_or(published, |o| o.min(published)))
                    }
                    None => untimed = true,
                }
            }
        }
        reading.latency = match (oldest, untimed) {
            (_, true) => None,
            (Some(published), false) => Some(age(now, published)),
            (None, false) => Some(Duration::ZERO),
        };
        readings.push(reading);
    }
    Ok(Reading {
        queues: readings,
        due_shared: None,
    })
}

/// Resque (lib/resque/data_store.rb), namespace `resque` unless the app sets another: LIST `resque:queue:NAME` of payloads
/// without a timestamp (depth only); SET `resque:workers`, and STRING `resque:worker:<id>` holding
/// `{queue, run_at, payload}` while that worker runs a job.
async fn resque(
    connection: &mut ConnectionManager,
    keys: &Keys,
    queues: &[String],
) -> Result<Reading, Error> {
    let mut batch = Batch::new(Backend::Resque);
    let depths: Vec<usize> = queues
        .iter()
        .map(|queue| {
            let key = keys.of(&format!("queue:{queue}"));
            batch.add(queue, &key, "a list of Resque jobs", "LLEN", &key, &[])
        })
        .collect();
    let workers = keys.of("workers");
    let workers = batch.add(
        "(all)",
        &workers,
        "a set of worker ids",
        "SMEMBERS",
        &workers,
        &[],
    );
    let replies = batch.run(connection).await?;
    let mut readings = Vec::new();
    for (queue, depth) in queues.iter().zip(depths) {
        let mut reading = queue_reading(queue);
        reading.depth = replies.count(depth)?;
        readings.push(reading);
    }

    let worker_keys: Vec<String> = replies
        .strings(workers)?
        .iter()
        .map(|id| keys.of(&format!("worker:{}", String::from_utf8_lossy(id))))
        .collect();
    let mut busy: HashMap<String, u64> = HashMap::new();
    if let Some((first, rest)) = worker_keys.split_first() {
        let mut batch = Batch::new(Backend::Resque);
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        let all = batch.add(
            "(all)",
            &keys.of("worker:*"),
            "strings of running jobs",
            "MGET",
            first,
            &rest,
        );
        let replies = batch.run(connection).await?;
        for (key, record) in worker_keys.iter().zip(replies.strings_or_nil(all)?) {
            if let Some(record) = record {
                let queue = parse::running_queue(&record)
                    .map_err(|problem| replies.malformed(all, Some(key), problem))?;
                *busy.entry(queue).or_default() += 1;
            }
        }
    }
    for reading in &mut readings {
        reading.busy = Some(busy.get(&reading.name).copied().unwrap_or(0));
    }
    Ok(Reading {
        queues: readings,
        due_shared: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heroku_skip_verification_becomes_redis_rs_insecure() {
        assert_eq!(
            client_url("rediss://:p@h.example:6380?ssl_cert_reqs=none").unwrap(),
            "rediss://:p@h.example:6380#insecure"
        );
        assert_eq!(
            client_url("rediss://:p@h.example:6380/2?ssl_cert_reqs=CERT_NONE&protocol=resp3")
                .unwrap(),
            "rediss://:p@h.example:6380/2?protocol=resp3#insecure"
        );
        assert_eq!(
            client_url("rediss://:p@h.example:6380?ssl_cert_reqs=required").unwrap(),
            "rediss://:p@h.example:6380"
        );
        assert_eq!(client_url("redis://h:1/0").unwrap(), "redis://h:1/0");
    }

    #[test]
    fn url_problems_do_not_repeat_the_url() {
        for url in [
            "postgres://u:s3cret@h/db",
            "rediss://u:s3cret@h?ssl_cert_reqs=maybe",
            "s3cret",
        ] {
            let problem = client_url(url).unwrap_err();
            assert!(!problem.contains("s3cret"), "{problem}");
        }
    }
}
