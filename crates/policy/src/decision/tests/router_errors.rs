//! A burst of router errors is trouble, like slow probes.

use super::*;

#[test]
fn a_burst_of_router_errors_steps_out_like_slow_probes() {
    let mut d = Decider::new(traffic_policy(), seed_schedule(1), at(12, 0, 0), None);
    d.handle(traffic(at(12, 0, 0), 1.0), at(12, 0, 1));
    let errors = |at, n| seen(at, |t| t.trouble_errors_last_minute = n);
    assert!(scales(&d.handle(errors(at(12, 0, 5), 9), at(12, 0, 6))).is_empty());
    let actions = d.handle(errors(at(12, 0, 10), 10), at(12, 0, 11));
    assert_eq!(scales(&actions), [(3, 4)]);
    let reason = first_reason(&actions);
    assert!(
        reason.starts_with("router errors: 10 H10/H12/H13"),
        "{reason}"
    );
    assert!(
        scales(&d.handle(errors(at(12, 1, 0), 30), at(12, 1, 1))).is_empty(),
        "once per cooldown"
    );
    assert_eq!(
        scales(&d.handle(errors(at(12, 2, 10), 30), at(12, 2, 11))),
        [(4, 5)]
    );
    // No step in within calm of the last burst, whatever the demand.
    let steps = traffic_steps(&mut d, at(12, 2, 11), at(12, 20, 0), 10 * SEC, 1.0);
    assert_eq!(steps, [((5, 3), at(12, 12, 11))]);
}
