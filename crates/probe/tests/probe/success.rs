//! Answered probes: each class from a real server's delay, statuses, redirects and request headers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use autoscaled_probe::{Class, DownReason, Prober, USER_AGENT};
use tokio::io::AsyncWriteExt;

use super::server::{answer, config, prober, serve, thresholds};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn a_server_answering_after_a_delay_gets_the_class_of_that_delay() {
    // fast < 100 ms, normal in [100, 300), slow in [300, 1000), down from 1 s.
    let t = thresholds(1000, 300, 100);
    for (delay, class) in [(0, Class::Fast), (150, Class::Normal), (400, Class::Slow)] {
        let addr = answer(200, ms(delay), "").await;
        let result = prober(addr, t).probe().await.unwrap();
        assert_eq!(result.class, class, "delay {delay} ms: {result:?}");
        assert_eq!(result.status, Some(200));
        assert_eq!(result.reason, None);
        assert!(result.latency >= ms(delay), "{result:?}");
        assert!(result.latency < ms(delay + 80), "{result:?}");
        assert!(
            result.describe().starts_with("200 in "),
            "{}",
            result.describe()
        );
    }
}

#[tokio::test]
async fn a_server_timed_prober_takes_the_apps_own_time_and_a_plain_one_measures() {
    // The server answers at once but says it spent 450 ms: slow for a server-timed prober, fast
    // for one that measures.
    let t = thresholds(1000, 300, 100);
    let addr = answer(
        200,
        Duration::ZERO,
        "Server-Timing: app;desc=\"render\";dur=450.5\r\n",
    )
    .await;
    let told = prober(addr, t).server_timed().probe().await.unwrap();
    assert_eq!(told.class, Class::Slow, "{told:?}");
    assert_eq!(told.latency, Duration::from_micros(450_500));
    let addr = answer(200, Duration::ZERO, "Server-Timing: app;dur=450\r\n").await;
    let measured = prober(addr, t).probe().await.unwrap();
    assert_eq!(measured.class, Class::Fast, "{measured:?}");
    // Without the header, or with a bad one, a server-timed prober measures.
    for header in [
        "",
        "Server-Timing: app;dur=-5\r\n",
        "Server-Timing: app;dur=soon\r\n",
    ] {
        let addr = answer(200, ms(150), header).await;
        let result = prober(addr, t).server_timed().probe().await.unwrap();
        assert_eq!(result.class, Class::Normal, "{header:?}: {result:?}");
        assert!(result.latency >= ms(150), "{result:?}");
    }
}

#[tokio::test]
async fn a_server_timed_prober_outwaits_a_stall_of_this_machine_and_goes_by_the_apps_time() {
    // A 100 ms timeout (a sped-up demo's is a few ms) and an answer 300 ms late that says the app
    // spent 20 ms: the machine stalled, the app was fast.
    let t = thresholds(100, 60, 30);
    let addr = answer(200, ms(300), "Server-Timing: app;dur=20\r\n").await;
    let told = prober(addr, t).server_timed().probe().await.unwrap();
    assert_eq!(told.class, Class::Fast, "{told:?}");
    // The app's own time over the timeout is down, as for a measured prober.
    let addr = answer(200, ms(300), "Server-Timing: app;dur=150\r\n").await;
    let slow = prober(addr, t).server_timed().probe().await.unwrap();
    assert_eq!(slow.class, Class::Down, "{slow:?}");
    // A prober that measures times out at its timeout.
    let addr = answer(200, ms(300), "Server-Timing: app;dur=20\r\n").await;
    let measured = prober(addr, t).probe().await.unwrap();
    assert_eq!(measured.class, Class::Down, "{measured:?}");
}

#[tokio::test]
async fn statuses_from_200_to_399_are_up_and_others_down() {
    let t = thresholds(1000, 300, 100);
    for (status, class) in [
        (200, Class::Fast),
        (204, Class::Fast),
        (399, Class::Fast),
        (404, Class::Down),
        (500, Class::Down),
        (503, Class::Down),
    ] {
        let addr = answer(status, Duration::ZERO, "").await;
        let result = prober(addr, t).probe().await.unwrap();
        assert_eq!(result.class, class, "{status}: {result:?}");
        assert_eq!(result.status, Some(status));
        if class == Class::Down {
            assert_eq!(result.reason, Some(DownReason::Status(status)));
            assert_eq!(result.describe(), format!("HTTP {status}"));
        }
    }
}

#[tokio::test]
async fn a_redirect_is_an_answer_and_is_not_followed() {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    // Following the redirect would reach /broken, which answers 503.
    let addr = serve(move |mut stream, head| {
        let first_line = head.lines().next().unwrap_or_default().to_owned();
        seen.lock().unwrap().push(first_line.clone());
        async move {
            let response = if first_line.starts_with("GET /broken ") {
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 301 Moved Permanently\r\nLocation: /broken\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = stream.write_all(response.as_bytes()).await;
        }
    })
    .await;
    let result = prober(addr, thresholds(1000, 300, 100))
        .probe()
        .await
        .unwrap();
    assert_eq!(result.class, Class::Fast, "{result:?}");
    assert_eq!(result.status, Some(301));
    assert_eq!(
        *requests.lock().unwrap(),
        vec!["GET /health HTTP/1.1".to_owned()]
    );
}

#[tokio::test]
async fn requests_carry_the_user_agent_and_the_configured_headers() {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    let addr = serve(move |mut stream, head| {
        seen.lock().unwrap().push(head.to_ascii_lowercase());
        async move {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
    })
    .await;
    let mut cfg = config(&format!("http://{addr}/"), thresholds(1000, 300, 100));
    cfg.headers = vec![
        ("Host".into(), "my-app.herokuapp.com".into()),
        ("X-Probe-Token".into(), "abc123".into()),
    ];
    let result = Prober::new(cfg).unwrap().probe().await.unwrap();
    assert_eq!(result.class, Class::Fast);
    let heads = heads.lock().unwrap();
    let head = &heads[0];
    assert!(USER_AGENT.starts_with("autoscaled-probe/0."));
    assert!(
        head.contains(&format!(
            "user-agent: {}\r\n",
            USER_AGENT.to_ascii_lowercase()
        )),
        "{head}"
    );
    assert!(head.contains("host: my-app.herokuapp.com\r\n"), "{head}");
    assert!(head.contains("x-probe-token: abc123\r\n"), "{head}");
}
