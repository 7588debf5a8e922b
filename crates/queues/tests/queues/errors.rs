//! Bad input from the datastore, unreachable datastores, and secrets kept out of errors.

use autoscaled_queues::{Backend, Error, Reader};
use chrono::Utc;
use secret::Secret;

use crate::support::{TestRedis, python};

#[tokio::test]
async fn a_malformed_job_names_the_queue_and_what_was_expected() {
    let redis = TestRedis::new();
    let mut admin = redis.admin();
    redis::cmd("LPUSH")
        .arg("queue:default")
        .arg(r#"{"class":"HardWorker","args":["card 4242"],"enqueued_at":"yesterday"}"#)
        .query::<()>(&mut admin)
        .unwrap();
    redis::cmd("LPUSH")
        .arg("queue:mailers")
        .arg("{not json")
        .query::<()>(&mut admin)
        .unwrap();
    let reader = redis.reader(Backend::Sidekiq, &["default"]).await;
    let error = reader.read(Utc::now()).await.unwrap_err();
    assert!(matches!(error, Error::MalformedJob { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with(r#"sidekiq queue "default": enqueued_at in "queue:default" is "\"yesterday\"", expected a Sidekiq job"#), "{message}");
    assert!(
        !message.contains("4242"),
        "the job's arguments stay out: {message}"
    );

    let reader = redis.reader(Backend::Sidekiq, &["mailers"]).await;
    let message = reader.read(Utc::now()).await.unwrap_err().to_string();
    assert!(
        message.contains(r#"queue "mailers": the job in "queue:mailers" is not JSON"#),
        "{message}"
    );
}

#[tokio::test]
async fn a_malformed_rq_timestamp_names_the_job() {
    let redis = TestRedis::new();
    python(&redis, "rq_enqueue.py", &["default", "1"]);
    let mut admin = redis.admin();
    let id: String = redis::cmd("LINDEX")
        .arg("rq:queue:default")
        .arg(0)
        .query(&mut admin)
        .unwrap();
    redis::cmd("HSET")
        .arg(format!("rq:job:{id}"))
        .arg("enqueued_at")
        .arg("2026-12-07 14:20")
        .query::<()>(&mut admin)
        .unwrap();
    let reader = redis.reader(Backend::Rq, &["default"]).await;
    let message = reader.read(Utc::now()).await.unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "rq queue \"default\": enqueued_at in \"rq:job:{id}\" is \"2026-12-07 14:20\", expected an RQ \
             timestamp like 2026-12-07T14:20:00.123456Z (UTC)"
        )
    );
}

#[tokio::test]
async fn a_key_of_the_wrong_type_names_queue_and_key() {
    let redis = TestRedis::new();
    let mut admin = redis.admin();
    redis::cmd("SET")
        .arg("bull:emails:wait")
        .arg("not a list")
        .query::<()>(&mut admin)
        .unwrap();
    let reader = redis.reader(Backend::Bullmq, &["default", "emails"]).await;
    let error = reader.read(Utc::now()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "bullmq queue \"emails\": key \"bull:emails:wait\" holds the wrong type of value, expected a \
         list of BullMQ job ids"
    );
}

#[tokio::test]
async fn the_reader_cannot_write() {
    // The proof that the readers work with read commands alone: the user they connect as is
    // refused a write.
    let redis = TestRedis::new();
    let mut reader = redis::Client::open(redis.reader_url().expose())
        .and_then(|client| client.get_connection())
        .unwrap();
    let refused = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<()>(&mut reader)
        .unwrap_err();
    assert_eq!(refused.code(), Some("NOPERM"), "{refused:?}");
}

#[tokio::test]
async fn urls_stay_secret_in_errors_and_debug() {
    let port = testkit::closed_port();
    for (backend, url) in [
        (
            Backend::Sidekiq,
            format!("redis://user:pa55word@127.0.0.1:{port}/0"),
        ),
        (
            Backend::GoodJob,
            format!("postgres://user:pa55word@127.0.0.1:{port}/db"),
        ),
        (
            Backend::Sidekiq,
            "postgres://user:pa55word@127.0.0.1/db".to_owned(),
        ),
        (
            Backend::Oban,
            "redis://user:pa55word@127.0.0.1/0".to_owned(),
        ),
        (
            Backend::Rq,
            "rediss://user:pa55word@127.0.0.1/0?ssl_cert_reqs=sometimes".to_owned(),
        ),
    ] {
        let error = Reader::connect(backend, &Secret::new(url.clone()), vec!["default".into()])
            .await
            .unwrap_err();
        let mut chain = format!("{error} {error:?}");
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            chain.push_str(&format!(" {cause} {cause:?}"));
            source = cause.source();
        }
        assert!(!chain.contains("pa55word"), "{url} leaked: {chain}");
    }

    let redis = TestRedis::new();
    let reader = redis.reader(Backend::Sidekiq, &["default"]).await;
    let debug = format!("{reader:?}");
    assert!(
        !debug.contains("reader-s3cret") && !debug.contains("127.0.0.1"),
        "{debug}"
    );
}

#[tokio::test]
async fn a_verified_tls_url_is_refused_by_a_server_without_tls_and_no_secret_leaks() {
    // rediss:// to a plain server: the TLS handshake fails, and says nothing of the password.
    let redis = TestRedis::new();
    let url = redis
        .reader_url()
        .expose()
        .replacen("redis://", "rediss://", 1);
    let error = Reader::connect(Backend::Sidekiq, &Secret::new(url), vec!["default".into()])
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Redis { .. } | Error::Timeout { .. }),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains("reader-s3cret"));
}
