//! Retries: what is retried, how long the client waits (on tokio's paused clock, so these run in
//! milliseconds and always the same way), and when it gives up.
//!
//! The waits are checked through the fake in process ([`client_in_process`]): with no socket, the
//! paused clock moves only by timers, so a wait is exact. Over loopback it would also jump ahead to
//! the next timer whenever the runtime idles while an answer is in flight, so only the behaviours
//! that need reqwest's own path (a timeout, a closed connection, a refused connect) go over it.

use std::time::Duration;

use autoscaled_heroku_api::{Error, FormationUpdate, RetryPolicy};
use heroku_fake::{FakeHeroku, FaultOptions};
use tokio::time::Instant;

use crate::{TOKEN, client_in_process, client_with, fake};

fn three() -> FormationUpdate {
    FormationUpdate {
        quantity: Some(3),
        dyno_size: None,
    }
}

fn retry_after(seconds: u32) -> FaultOptions {
    FaultOptions {
        retry_after: Some(seconds),
        ..FaultOptions::default()
    }
}

/// How far past the waits the paused clock may be: tokio's timers fire on whole milliseconds, and
/// a logged `wait_ms` drops the fraction of one.
const TIMER_GRAIN: Duration = Duration::from_millis(2);

/// That `waited` is the logged `waits` (in ms), give or take [`TIMER_GRAIN`].
fn assert_waited(waited: Duration, waits: &[u64]) {
    let logged = Duration::from_millis(waits.iter().sum());
    assert!(
        waited >= logged && waited <= logged + TIMER_GRAIN,
        "waited {waited:?}, the client logged {waits:?} ms"
    );
}

fn client(fake: &FakeHeroku) -> autoscaled_heroku_api::Client {
    client_in_process(fake, RetryPolicy::default())
}

/// The `wait_ms` of each log line that has `needle`.
fn logged_waits(logs: &testkit::Logs, needle: &str) -> Vec<u64> {
    logs.lines_with(needle)
        .iter()
        .filter_map(|line| {
            let (_, rest) = line.split_once("wait_ms=")?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_503_then_a_success_is_retried_after_a_jittered_backoff() {
    let (logs, _capturing) = testkit::Logs::capture();
    let fake = fake().await;
    fake.fail_next(1, 503, FaultOptions::default());
    let started = Instant::now();
    let web = client(&fake)
        .formation_update("my-app", "web", &three())
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(web.quantity, 3);
    assert_eq!(fake.quantity("my-app", "web"), Some(3));
    assert_eq!(fake.requests().len(), 2);
    // The first backoff is 500 ms with equal jitter: between 250 and 500 ms, as the client says;
    // the call waited just that.
    let waits = logged_waits(&logs, "Heroku API call failed; retrying");
    assert_eq!(waits.len(), 1, "{}", logs.text());
    assert!((250..500).contains(&waits[0]), "{waits:?}");
    assert_waited(waited, &waits);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let (logs, _capturing) = testkit::Logs::capture();
    let fake = fake().await;
    fake.fail_next(1, 429, retry_after(7));
    let started = Instant::now();
    client(&fake)
        .formation_update("my-app", "web", &three())
        .await
        .unwrap();
    let waited = started.elapsed();
    // Heroku's 7 s, not the backoff's half second, as the client says; waited just that.
    let waits = logged_waits(&logs, "retrying");
    assert_eq!(waits, [7000], "{}", logs.text());
    assert_waited(waited, &waits);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_persistent_429_ends_in_rate_limited_after_max_attempts() {
    let fake = fake().await;
    fake.fail_next(10, 429, retry_after(3));
    let started = Instant::now();
    let error = client(&fake).app_info("my-app").await.unwrap_err();
    assert!(
        matches!(&error, Error::RateLimited(e) if e.id == "rate_limit"),
        "{error:?}"
    );
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
    assert!(error.request_id().is_some());
    assert!(error.is_retryable());
    assert_eq!(
        fake.requests().len(),
        4,
        "the default policy makes 4 attempts"
    );
    // Three times Heroku's 3 s (more than each backoff), and nothing more.
    assert_waited(started.elapsed(), &[3000, 3000, 3000]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_beyond_the_time_limit_gives_up_at_once() {
    let fake = fake().await;
    fake.fail_next(1, 429, retry_after(120));
    let started = Instant::now();
    let error = client(&fake).app_info("my-app").await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(fake.requests().len(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn server_errors_stop_at_max_attempts() {
    let (logs, _capturing) = testkit::Logs::capture();
    let fake = fake().await;
    fake.fail_next(10, 500, FaultOptions::default());
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let started = Instant::now();
    let error = client_in_process(&fake, policy)
        .app_info("my-app")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Server(e) if e.status == 500 && e.id == "internal_server_error"),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 3);
    // Two backoffs, 250-500 and 500-1000 ms, and no wait after the last attempt.
    let waits = logged_waits(&logs, "retrying");
    assert!(
        waits.len() == 2 && (250..500).contains(&waits[0]) && (500..1000).contains(&waits[1]),
        "{waits:?}"
    );
    assert_waited(started.elapsed(), &waits);
}

#[tokio::test(start_paused = true)]
async fn an_empty_rate_budget_waits_for_a_refill() {
    let fake = FakeHeroku::builder(TOKEN)
        .rate_limit(10)
        .start()
        .await
        .unwrap();
    fake.set_formation("my-app", "web", 1);
    fake.set_rate_limit_remaining(0);
    let client = client(&fake);
    let started = Instant::now();
    let web = client
        .formation_update("my-app", "web", &three())
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(web.quantity, 3);
    // The 429 carried no Retry-After and RateLimit-Remaining: 0, so the client let tokens come back
    // (75 a minute) instead of retrying after 500 ms into an empty pool.
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_waited(waited, &[4000]);
    assert_eq!(client.rate_limit_remaining(), Some(4));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_over_the_network_is_a_transport_error() {
    let fake = fake().await;
    fake.delay_next(1, Duration::from_secs(60));
    let client = client_with(&fake, RetryPolicy::never());
    let error = client.app_info("my-app").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                timed_out: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable() && error.request_id().is_none());
    assert_eq!(client.reachable(), Some(false));
    // The client's own timeout, on tokio's clock whatever the transport, is the source.
    let source = std::error::Error::source(&error)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    assert_eq!(source, Some(std::io::ErrorKind::TimedOut), "{error:?}");
    assert!(
        error.to_string().starts_with(
            "cannot reach the Heroku API (timed out): no answer to GET http://127.0.0.1:"
        ),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_delay_beyond_the_timeout_times_out_on_the_paused_clock_and_is_retried() {
    let (logs, _capturing) = testkit::Logs::capture();
    let fake = fake().await;
    fake.delay_next(1, Duration::from_secs(60));
    let started = Instant::now();
    let call = tokio::spawn({
        let client = client(&fake);
        async move { client.formation_update("my-app", "web", &three()).await }
    });
    // The first attempt is held by the fake: the update has not happened yet.
    fake.wait_for_requests(1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(fake.quantity("my-app", "web"), Some(1));
    let web = call.await.unwrap().unwrap();
    assert_eq!(web.quantity, 3);
    assert_eq!(fake.requests().len(), 2);
    // The 5 s request timeout, then the backoff, and nothing more.
    let waits = logged_waits(&logs, "retrying");
    assert!(
        waits.len() == 1 && (250..500).contains(&waits[0]),
        "{}",
        logs.text()
    );
    assert!(
        logs.text().contains("(timed out)"),
        "the retry was for the timeout: {}",
        logs.text()
    );
    assert_waited(started.elapsed() - Duration::from_secs(5), &waits);
}

// On the real clock: nothing waits here, and a paused clock could jump to the timeout while the
// loopback's answer is in flight.
#[tokio::test]
async fn a_closed_connection_over_the_network_is_a_transport_error() {
    let fake = fake().await;
    fake.drop_next(1);
    let client = client_with(&fake, RetryPolicy::never());
    assert_eq!(client.reachable(), None, "no call made yet");
    let error = client.app_info("my-app").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                timed_out: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(client.reachable(), Some(false));
    // The client's error stays the source, for callers that walk the chain of causes.
    let source = std::error::Error::source(&error);
    assert!(
        source.is_some_and(|s| s.is::<reqwest::Error>()),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_is_a_transport_error_and_is_retried() {
    let (logs, _capturing) = testkit::Logs::capture();
    let fake = fake().await;
    fake.drop_next(1);
    let error = client_in_process(&fake, RetryPolicy::never())
        .app_info("my-app")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                timed_out: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retryable());

    fake.drop_next(1);
    let client = client(&fake);
    let started = Instant::now();
    let app = client.app_info("my-app").await.unwrap();
    assert_eq!(app.name, "my-app");
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(client.reachable(), Some(true));
    let waits = logged_waits(&logs, "retrying");
    assert_eq!(waits.len(), 1, "{}", logs.text());
    assert_waited(started.elapsed(), &waits);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_server_is_a_transport_error_after_the_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = autoscaled_heroku_api::Client::builder(secret::Secret::new(TOKEN))
        .base_url(url)
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.app_info("my-app").await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                timed_out: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(client.reachable(), Some(false));
    // Three backoffs: 250-500, 500-1000 and 1000-2000 ms.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1750) && waited < Duration::from_millis(3500),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_holds_every_call_until_it_passes() {
    let fake = fake().await;
    fake.fail_next(1, 429, retry_after(60));
    let client = client(&fake);
    let started = Instant::now();
    // 60 s is beyond the retry time limit: this call gives up at once...
    let error = client.app_info("my-app").await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(client.reachable(), Some(true), "a refusal is an answer");
    assert_eq!(client.held_until(), Some(started + Duration::from_secs(60)));
    // ...and every call after it, from any clone, reads and scale calls alike, waits for the hold.
    let scale = tokio::spawn({
        let client = client.clone();
        async move { client.formation_update("my-app", "web", &three()).await }
    });
    let mut reads = Vec::new();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let client = client.clone();
        reads.push(tokio::spawn(async move {
            client.formation_info("my-app", "web").await
        }));
    }
    tokio::time::sleep_until(started + Duration::from_millis(59_900)).await;
    assert_eq!(
        fake.requests().len(),
        1,
        "no call may reach Heroku before its Retry-After has passed"
    );
    assert_eq!(fake.quantity("my-app", "web"), Some(1));
    let web = scale.await.unwrap().unwrap();
    assert_eq!(web.quantity, 3);
    assert_waited(started.elapsed(), &[60_000]);
    for read in reads {
        read.await.unwrap().unwrap();
    }
    assert_eq!(fake.requests().len(), 7);
    assert_eq!(client.held_until(), None);
}

#[tokio::test(start_paused = true)]
async fn reads_under_a_429_for_two_minutes_go_out_once_a_retry_after() {
    let fake = fake().await;
    // Every call is refused for two minutes, each time asking for 60 s.
    fake.fail_for(Duration::from_secs(120), 429, retry_after(60));
    let client = client(&fake);
    let started = Instant::now();
    // A reconcile loop reading every 10 s, as the daemon's would under a low budget's pace.
    let mut answered = Vec::new();
    while started.elapsed() < Duration::from_secs(150) {
        let result = client.formation_info("my-app", "web").await;
        answered.push((started.elapsed().as_secs(), result.is_ok()));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let sent: Vec<_> = fake.requests().iter().map(|r| r.path.clone()).collect();
    // At 0 s and 60 s (both refused, each holding 60 s more), then at 120 s and every 10 s.
    assert_eq!(answered.first(), Some(&(0, false)), "{answered:?}");
    assert_eq!(answered.get(1), Some(&(60, false)), "{answered:?}");
    assert_eq!(answered.get(2), Some(&(120, true)), "{answered:?}");
    assert_eq!(sent.len(), answered.len(), "{answered:?}");
    // Without the hold: a call every 10 s, 12 refusals in the two minutes.
    assert_eq!(sent.len(), 5, "{answered:?}");
}
