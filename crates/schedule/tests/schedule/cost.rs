//! Dyno sizes and prices.

use autoscaled_schedule::DynoSize;

#[test]
fn heroku_names_parse_in_any_case() {
    for (name, size) in [
        ("eco", DynoSize::Eco),
        ("Basic", DynoSize::Basic),
        ("standard-1X", DynoSize::Standard1X),
        ("Standard-1X", DynoSize::Standard1X),
        ("standard-1x", DynoSize::Standard1X),
        ("STANDARD-2X", DynoSize::Standard2X),
        ("performance-m", DynoSize::PerformanceM),
        (" Performance-L ", DynoSize::PerformanceL),
    ] {
        assert_eq!(DynoSize::from_heroku_name(name), Some(size), "{name}");
    }
    for unknown in ["", "standard", "standard-3x", "performance-xl2", "hobby-1x"] {
        assert_eq!(DynoSize::from_heroku_name(unknown), None, "{unknown}");
    }
    for size in DynoSize::ALL {
        assert_eq!(DynoSize::from_heroku_name(&size.to_string()), Some(size));
    }
}

#[test]
fn prices_are_the_published_monthly_ones_prorated_over_720_hours() {
    let monthly: Vec<f64> = DynoSize::ALL.iter().map(|s| s.monthly_price()).collect();
    assert_eq!(monthly, [5.0, 7.0, 25.0, 50.0, 250.0, 500.0]);
    assert_eq!(DynoSize::Standard1X.price_per_hour(), 25.0 / 720.0);
    assert_eq!(DynoSize::PerformanceL.price_per_hour(), 500.0 / 720.0);
    assert_eq!(DynoSize::Eco.price_per_hour(), 0.005);
    // A dyno running a whole 30-day month costs its monthly price.
    assert!((DynoSize::Standard2X.cost(720.0) - 50.0).abs() < 1e-9);
    // The seed schedule's day (59 dyno-hours) against 3 dynos all day (72).
    let saved = DynoSize::Standard1X.cost(72.0) - DynoSize::Standard1X.cost(59.0);
    assert!((saved - 13.0 * 25.0 / 720.0).abs() < 1e-12);
}
