use super::*;

#[tokio::test(start_paused = true)]
async fn a_fast_clock_runs_speed_times_real_time() {
    let epoch = DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let clock = Clock::fast(epoch, 1800);
    tokio::time::sleep(clock.real_duration(Duration::from_secs(3600))).await;
    assert_eq!(clock.now(), epoch + TimeDelta::hours(1));
    assert_eq!(
        clock.scaled(Duration::from_millis(2)),
        Duration::from_millis(3600)
    );
}
