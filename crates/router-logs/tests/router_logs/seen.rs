//! Recently seen Logplex frame ids.

use autoscaled_router_logs::SeenFrames;

#[test]
fn a_retry_is_seen_until_it_is_forgotten() {
    let mut seen = SeenFrames::new(3);
    assert!(seen.is_empty());
    assert!(seen.insert("a"));
    assert!(!seen.insert("a"));
    assert!(seen.insert("b"));
    assert!(seen.insert("c"));
    assert!(!seen.insert("a"), "still among the last three");
    assert!(seen.insert("d"), "forgets a, the oldest");
    assert_eq!(seen.len(), 3);
    assert!(seen.insert("a"), "a was forgotten");
    assert!(!seen.insert("c"));
    assert!(!seen.insert("d"));
    assert!(seen.insert("b"), "b went when a came back");
}

#[test]
fn memory_is_bounded_whatever_the_ids() {
    let mut seen = SeenFrames::default();
    for i in 0..10_000 {
        assert!(seen.insert(&format!("{i:032x}{}", "x".repeat(i % 100))));
    }
    assert_eq!(seen.len(), 1024);
    assert!(!seen.insert(&format!("{:032x}{}", 9_999, "x".repeat(99))));
    assert!(seen.insert(&format!("{:032x}", 0)));
    assert_eq!(SeenFrames::new(0).len(), 0);
    let mut one = SeenFrames::new(0);
    assert!(one.insert("x") && !one.insert("x") && one.insert("y") && one.insert("x"));
}
