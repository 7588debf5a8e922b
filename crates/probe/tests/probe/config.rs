//! Refused configurations, and secrets kept out of every printed text.

use std::time::Duration;

use autoscaled_probe::{Error, Prober};
use tokio::net::TcpListener;

use super::server::{config, thresholds};

#[test]
fn invalid_configs_are_refused_with_the_reason() {
    let t = thresholds(1000, 300, 100);

    let err = Prober::new(config("ftp://example.com/", t)).unwrap_err();
    assert!(
        matches!(err, Error::Scheme { ref scheme } if scheme == "ftp"),
        "{err}"
    );

    let mut cfg = config("http://example.com/", t);
    cfg.interval = Duration::from_millis(1000);
    let err = Prober::new(cfg).unwrap_err();
    assert!(
        matches!(err, Error::Timeout { .. }),
        "timeout == interval: {err}"
    );

    let err = Prober::new(config("http://example.com/", thresholds(0, 300, 100))).unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "zero timeout: {err}");

    let err = Prober::new(config("http://example.com/", thresholds(1000, 300, 300))).unwrap_err();
    assert!(matches!(err, Error::FastNotBelowSlow { .. }), "{err}");

    let mut cfg = config("http://example.com/", t);
    cfg.headers = vec![("Bad Name".into(), "x".into())];
    let err = Prober::new(cfg).unwrap_err();
    assert!(matches!(err, Error::HeaderName { .. }), "{err}");
}

#[tokio::test]
async fn secrets_never_reach_debug_display_or_results() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = config(
        &format!("http://user:hunter2@{addr}/?token=tok-9f8e7d"),
        thresholds(1000, 300, 100),
    );
    cfg.headers = vec![("Authorization".into(), "Bearer sk-live-5ecret".into())];
    let secrets = ["hunter2", "tok-9f8e7d", "sk-live-5ecret"];

    let config_text = format!("{cfg:?}");
    assert!(config_text.contains("[redacted]"), "{config_text}");
    let prober = Prober::new(cfg.clone()).unwrap();
    let result = prober.probe().await.unwrap();
    let mut bad_value = cfg.clone();
    bad_value.headers = vec![("Authorization".into(), "sk-live-5ecret\n".into())];
    let err = Prober::new(bad_value).unwrap_err();

    for text in [
        config_text,
        format!("{prober:?}"),
        format!("{result:?}"),
        result.describe(),
        format!("{err} {err:?}"),
    ] {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}
