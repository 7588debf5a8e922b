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

proptest! {
    /// A burst at or past the threshold is trouble: after any history, a reading with it never
    /// lowers the target, whatever the load it carries.
    #[test]
    fn a_burst_never_lowers_the_target(
        (policy, schedule, events) in arb_run(),
        errors in 0u32..40,
        in_flight in 0.0..20.0f64,
        gap in 1u64..300,
    ) {
        let policy = Policy {
            traffic: policy.traffic.or(Some(TrafficPolicy::new(2, 0.8))),
            ..policy
        };
        let (mut d, t) = lived(policy, schedule, events)?;
        let t = t + SEC * gap as u32;
        // The burst's figures are fresh and not maintenance; the schedule is read first.
        d.handle(Event::Maintenance(false), t);
        let (before, baseline) = (d.target(), d.snapshot().baseline);
        let burst = seen(t - SEC, |s| {
            s.in_flight = in_flight;
            s.panic_in_flight = in_flight;
            s.trouble_errors_last_minute = errors;
        });
        d.handle(burst, t);
        within_bounds(&d, &policy)?;
        let threshold = policy.traffic.map_or(u32::MAX, |p| p.trouble_errors);
        if errors >= threshold && baseline > 0 && !d.snapshot().maintenance {
            prop_assert!(d.target() >= before, "{errors} errors: {before} → {}", d.target());
        }
    }
}
