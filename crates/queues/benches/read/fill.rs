//! Fills a datastore with each backend's jobs, as the library writes them, for the bench.

use autoscaled_queues::Backend;

/// The filled datastore: its URL, and what removes the jobs when dropped.
pub(crate) struct Target {
    pub(crate) url: String,
    pub(crate) _keep: Box<dyn std::any::Any>,
}

/// The Redis database the bench uses (the tests use the lower ones); emptied before and after.
const BENCH_DB: u32 = 63;

struct FlushOnDrop(String);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        if let Ok(mut connection) =
            redis::Client::open(self.0.as_str()).and_then(|c| c.get_connection())
        {
            let _ = redis::cmd("FLUSHDB").query::<()>(&mut connection);
        }
    }
}

pub(crate) fn fill(backend: Backend, server: &str, queues: &[String], jobs: usize) -> Target {
    match backend {
        Backend::Sidekiq | Backend::Rq | Backend::Bullmq | Backend::Celery | Backend::Resque => {
            fill_redis(backend, server, queues, jobs)
        }
        _ => crate::fill_postgres::fill(backend, server, queues, jobs),
    }
}

fn fill_redis(backend: Backend, server: &str, queues: &[String], jobs: usize) -> Target {
    let mut url = url::Url::parse(server).expect("AUTOSCALED_TEST_REDIS is a URL");
    url.set_path(&format!("/{BENCH_DB}"));
    let url = String::from(url);
    let mut connection = redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection())
        .expect("a connection to the test Redis");
    redis::cmd("FLUSHDB")
        .query::<()>(&mut connection)
        .expect("FLUSHDB");
    let enqueued = chrono::Utc::now().timestamp_micros() as f64 / 1e6 - 30.0;
    for queue in queues {
        // (list, push command, member, then what the oldest job's id points at)
        let (list, push, member): (String, &str, String) = match backend {
            Backend::Sidekiq => (
                format!("queue:{queue}"),
                "LPUSH",
                format!(
                    r#"{{"retry":true,"queue":"{queue}","class":"HardWorker","args":[1],"jid":"0123456789abcdef01234567","created_at":{enqueued},"enqueued_at":{enqueued}}}"#
                ),
            ),
            Backend::Rq => (
                format!("rq:queue:{queue}"),
                "RPUSH",
                "5f0b6bb6-3d4b-4a8e-9d5c-0a1b2c3d4e5f".to_owned(),
            ),
            Backend::Bullmq => (format!("bull:{queue}:wait"), "LPUSH", "1".to_owned()),
            Backend::Celery => (
                queue.clone(),
                "LPUSH",
                format!(
                    r#"{{"body":"W1sxLCAyXSwge30sIHt9XQ==","content-encoding":"utf-8","content-type":"application/json","headers":{{"task":"tasks.add","id":"eaf3d022"}},"properties":{{"published_at":{enqueued},"delivery_info":{{"exchange":"","routing_key":"{queue}"}},"priority":0,"body_encoding":"base64"}}}}"#
                ),
            ),
            _ => (
                format!("resque:queue:{queue}"),
                "RPUSH",
                r#"{"class":"Archive","args":[1]}"#.to_owned(),
            ),
        };
        let mut left = jobs;
        while left > 0 {
            let mut pipe = redis::pipe();
            for _ in 0..100 {
                let batch = left.min(1_000);
                if batch == 0 {
                    break;
                }
                pipe.cmd(push)
                    .arg(&list)
                    .arg(vec![member.as_str(); batch])
                    .ignore();
                left -= batch;
            }
            pipe.query::<()>(&mut connection).expect("bulk push");
        }
        let mut pipe = redis::pipe();
        match backend {
            Backend::Sidekiq => {
                pipe.cmd("SADD").arg("queues").arg(queue).ignore();
            }
            Backend::Resque => {
                pipe.cmd("SADD").arg("resque:queues").arg(queue).ignore();
            }
            Backend::Rq => {
                pipe.cmd("HSET")
                    .arg(format!("rq:job:{member}"))
                    .arg("enqueued_at")
                    .arg(
                        chrono::Utc::now()
                            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                            .to_string(),
                    )
                    .ignore();
            }
            Backend::Bullmq => {
                pipe.cmd("HSET")
                    .arg(format!("bull:{queue}:1"))
                    .arg("timestamp")
                    .arg(chrono::Utc::now().timestamp_millis())
                    .arg("delay")
                    .arg(0)
                    .ignore();
            }
            // Celery keeps nothing but its lists.
            _ => continue,
        }
        pipe.query::<()>(&mut connection)
            .expect("the oldest job's record");
    }
    if backend == Backend::Sidekiq {
        // Ten busy processes, as a formation of workers would leave them.
        let mut pipe = redis::pipe();
        for process in 0..10 {
            let identity = format!("worker.{process}:7:0123456789ab");
            pipe.cmd("SADD").arg("processes").arg(&identity).ignore();
            for thread in 0..10 {
                pipe.cmd("HSET")
                    .arg(format!("{identity}:work"))
                    .arg(format!("tid{thread}"))
                    .arg(format!(
                        r#"{{"queue":"queue{:02}","payload":"{{}}","run_at":1765117200}}"#,
                        thread
                    ))
                    .ignore();
            }
        }
        pipe.query::<()>(&mut connection).expect("busy processes");
    }
    let keep = FlushOnDrop(url.clone());
    Target {
        url,
        _keep: Box::new(keep),
    }
}
