//! What a schedule does over the coming days, and what it saves against running at `max`.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Serialize, Serializer};

use crate::Schedule;

/// A schedule's plan over a window of whole days: the baseline at its start, the changes in it,
/// and its dyno-hours and cost against running at `max` all the time. Figures are rounded to
/// hundredths; in JSON, instants are RFC 3339 to the second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The baseline at the start of the window.
    pub quantity: u32,
    /// The changes of the baseline in the window, in order.
    pub changes: Vec<PlannedChange>,
    /// Dyno-hours and cost, the schedule's and at `max`.
    #[serde(flatten)]
    pub cost: PlanCost,
}

/// A change of the baseline, with its wall clock time in the schedule's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChange {
    /// When the new value starts.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// `at` in the schedule's time zone, e.g. `Mon 2026-11-30 07:00 CET`.
    pub local: String,
    /// The baseline from then on.
    pub quantity: u32,
}

/// A plan's dyno-hours and cost, and what it saves against running at `max` all the time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanCost {
    /// USD per dyno-hour.
    pub price_per_hour: f64,
    /// Dyno-hours the schedule runs in the window.
    pub dyno_hours: f64,
    /// Their cost in USD.
    pub cost: f64,
    /// The most dynos the app may run.
    pub max: u32,
    /// Dyno-hours at `max` all the time.
    pub max_dyno_hours: f64,
    /// Their cost in USD.
    pub max_cost: f64,
    /// `max_dyno_hours - dyno_hours`.
    pub saved_dyno_hours: f64,
    /// `max_cost - cost`.
    pub saved_cost: f64,
}

impl Schedule {
    /// The plan of the `days` days from `from`, priced at `price_per_hour` USD a dyno-hour,
    /// against running at `max` all the time.
    pub fn plan(&self, from: DateTime<Utc>, days: u32, max: u32, price_per_hour: f64) -> Plan {
        let to = from + TimeDelta::days(i64::from(days));
        let changes = self
            .changes(from, to)
            .into_iter()
            .map(|change| PlannedChange {
                at: change.at,
                local: change
                    .at
                    .with_timezone(&self.timezone())
                    .format("%a %Y-%m-%d %H:%M %Z")
                    .to_string(),
                quantity: change.quantity,
            })
            .collect();
        let hours = (to - from).num_seconds() as f64 / 3600.0;
        let dyno_hours = self.dyno_hours(from, to);
        let max_dyno_hours = f64::from(max) * hours;
        Plan {
            quantity: self.baseline_at(from),
            changes,
            cost: PlanCost {
                price_per_hour,
                dyno_hours: round(dyno_hours),
                cost: round(dyno_hours * price_per_hour),
                max,
                max_dyno_hours: round(max_dyno_hours),
                max_cost: round(max_dyno_hours * price_per_hour),
                saved_dyno_hours: round(max_dyno_hours - dyno_hours),
                saved_cost: round((max_dyno_hours - dyno_hours) * price_per_hour),
            },
        }
    }
}

/// To hundredths.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::Rule;

    fn office_hours() -> Schedule {
        let rules = vec![
            Rule::new("0 8 * * MON-FRI", 3).unwrap(),
            Rule::new("0 18 * * MON-FRI", 1).unwrap(),
        ];
        Schedule::new(rules, chrono_tz::Europe::Berlin, 1)
    }

    #[test]
    fn a_week_of_office_hours() {
        // Friday 2026-11-27 12:00 in Berlin (CET, UTC+1).
        let from = Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap();
        let plan = office_hours().plan(from, 7, 4, 0.5);
        assert_eq!(plan.quantity, 3);
        // Friday 18:00, 08:00 and 18:00 Monday to Thursday, Friday 08:00.
        assert_eq!(plan.changes.len(), 1 + 2 * 4 + 1);
        assert_eq!(
            plan.changes[0],
            PlannedChange {
                at: Utc.with_ymd_and_hms(2026, 11, 27, 17, 0, 0).unwrap(),
                local: "Fri 2026-11-27 18:00 CET".to_owned(),
                quantity: 1,
            }
        );
        // 168 hours at 1, plus 2 more for the 6 hours left on Friday, 4 days of 10 hours and
        // 4 hours the next Friday.
        let dyno_hours = 168.0 + 2.0 * (6.0 + 4.0 * 10.0 + 4.0);
        assert_eq!(
            plan.cost,
            PlanCost {
                price_per_hour: 0.5,
                dyno_hours,
                cost: dyno_hours * 0.5,
                max: 4,
                max_dyno_hours: 672.0,
                max_cost: 336.0,
                saved_dyno_hours: 672.0 - dyno_hours,
                saved_cost: (672.0 - dyno_hours) * 0.5,
            }
        );
    }

    #[test]
    fn figures_are_rounded_to_hundredths() {
        let schedule = Schedule::new(Vec::new(), chrono_tz::UTC, 1);
        let from = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        let plan = schedule.plan(from, 1, 2, 25.0 / 720.0);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.cost.dyno_hours, 24.0);
        assert_eq!(plan.cost.cost, 0.83);
        assert_eq!(plan.cost.max_cost, 1.67);
        assert_eq!(plan.cost.saved_cost, 0.83);
    }

    #[test]
    fn json_has_flat_figures_and_instants_to_the_second() {
        let from = Utc.with_ymd_and_hms(2026, 11, 27, 11, 0, 0).unwrap();
        let plan = office_hours().plan(from, 1, 4, 1.0);
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["changes"][0]["at"], "2026-11-27T17:00:00Z");
        assert_eq!(json["changes"][0]["local"], "Fri 2026-11-27 18:00 CET");
        assert_eq!(json["max"], 4);
        // 6 hours at 3, then 18 at 1.
        assert_eq!(json["saved_dyno_hours"], 96.0 - 36.0);
        assert!(json.get("cost").is_some_and(serde_json::Value::is_number));
    }
}
