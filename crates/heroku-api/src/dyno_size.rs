//! Heroku's dyno sizes and their published prices.

use std::fmt;

/// A Heroku dyno size with a published per-dyno price.
///
/// Prices from <https://devcenter.heroku.com/articles/usage-and-billing> (the table "Price per
/// dyno/month", page last updated 2023-02-06, read 2026-11-27). Heroku prorates to the second at
/// the monthly price over 720 hours and bills a dyno at most its monthly price in a month; the
/// larger sizes (Performance-L-RAM, -XL, -2XL, Private, Shield) are left out because their prices
/// could not be checked against a published source here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DynoSize {
    /// Eco: $5 a month for a pool of 1000 dyno-hours shared by all Eco dynos of an account.
    Eco,
    /// Basic: $7 a month.
    Basic,
    /// Standard-1X: $25 a month.
    Standard1X,
    /// Standard-2X: $50 a month.
    Standard2X,
    /// Performance-M: $250 a month.
    PerformanceM,
    /// Performance-L: $500 a month.
    PerformanceL,
}

impl DynoSize {
    /// Every size, cheapest first.
    pub const ALL: [DynoSize; 6] = [
        DynoSize::Eco,
        DynoSize::Basic,
        DynoSize::Standard1X,
        DynoSize::Standard2X,
        DynoSize::PerformanceM,
        DynoSize::PerformanceL,
    ];

    /// The size Heroku calls `name` (`Standard-1X`, `standard-1x`, `performance-m`, …), in any
    /// case.
    pub fn from_heroku_name(name: &str) -> Option<DynoSize> {
        DynoSize::ALL
            .into_iter()
            .find(|size| size.heroku_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The name Heroku's documentation gives the size, e.g. `Standard-1X`.
    pub fn heroku_name(self) -> &'static str {
        match self {
            DynoSize::Eco => "Eco",
            DynoSize::Basic => "Basic",
            DynoSize::Standard1X => "Standard-1X",
            DynoSize::Standard2X => "Standard-2X",
            DynoSize::PerformanceM => "Performance-M",
            DynoSize::PerformanceL => "Performance-L",
        }
    }

    /// The published price of one dyno for a month, in USD (Eco: the whole 1000-hour pool).
    pub fn monthly_price(self) -> f64 {
        match self {
            DynoSize::Eco => 5.0,
            DynoSize::Basic => 7.0,
            DynoSize::Standard1X => 25.0,
            DynoSize::Standard2X => 50.0,
            DynoSize::PerformanceM => 250.0,
            DynoSize::PerformanceL => 500.0,
        }
    }

    /// USD per dyno-hour: the monthly price over 720 hours, as Heroku prorates; Eco's pool price
    /// over its 1000 hours.
    pub fn price_per_hour(self) -> f64 {
        match self {
            DynoSize::Eco => self.monthly_price() / 1000.0,
            _ => self.monthly_price() / 720.0,
        }
    }

    /// The USD cost of `dyno_hours` of this size, prorated without the monthly cap (which only
    /// lowers a bill for dynos that run more than 720 hours in one calendar month).
    pub fn cost(self, dyno_hours: f64) -> f64 {
        dyno_hours * self.price_per_hour()
    }
}

impl fmt::Display for DynoSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.heroku_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
