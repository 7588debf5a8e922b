//! Crontab rules in a time zone: the baseline dyno quantity at any instant, its coming changes,
//! dyno-hours and cost.
//!
//! Start with [`Schedule`]: build it from [`Rule`]s (a five-field crontab line and the quantity it
//! sets), an IANA time zone and a fallback (the app's `min`), then ask it for the
//! [`baseline_at`](Schedule::baseline_at) an instant, the [`changes`](Schedule::changes) in a window,
//! or the [`dyno_hours`](Schedule::dyno_hours) it runs, and a [`plan`](Schedule::plan) priced at a given
//! cost per dyno-hour (Heroku's price table is `autoscaled-heroku-api`'s, not this crate's).
//!
//! The baseline at instant T is the quantity of the rule whose most recent firing at or before T is
//! the latest, looking back 366 days (so a yearly rule still counts); when two rules last fired at
//! the same minute, the later one in the list wins; when none fired in that window, the fallback.
//! Everything is computed from the instant asked about, so a restarted process never misses a change.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use autoscaled_schedule::{Change, Rule, Schedule};
//!
//! let rules = vec![
//!     Rule::new("0 7 * * *", 3)?,
//!     Rule::new("0 22 * * *", 2)?,
//!     Rule::new("0 3 * * *", 1)?,
//! ];
//! let schedule = Schedule::new(rules, chrono_tz::UTC, 1);
//!
//! let noon = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
//! assert_eq!(schedule.baseline_at(noon), 3);
//! assert_eq!(
//!     schedule.next_change_after(noon),
//!     Some(Change { at: Utc.with_ymd_and_hms(2026, 11, 27, 22, 0, 0).unwrap(), quantity: 2 }),
//! );
//!
//! let day = schedule.dyno_hours(noon, noon + chrono::TimeDelta::days(1));
//! assert_eq!(day, 59.0);
//! # Ok::<(), autoscaled_schedule::Error>(())
//! ```
//!
//! # Crontab dialect
//!
//! Five fields, `minute hour day-of-month month day-of-week`, read by `croner` the way cron(8)
//! reads them: ranges `1-5`, lists `1,15`, steps `*/15` and `10-50/20`, names `MON`-`SUN` and
//! `JAN`-`DEC` in any case, 0 and 7 both Sunday, and `@yearly`, `@monthly`, `@weekly`, `@daily`,
//! `@hourly`. When day-of-month and day-of-week are both restricted, a day matching either fires
//! (OR); a field is restricted unless it is exactly `*`. croner's extensions are accepted as well
//! (`L`, `W`, `#`, and `?` for `*`), but not its `+` that would make day-of-month AND day-of-week.
//!
//! Daylight saving: a rule that names a wall clock time skipped by a gap fires at the first
//! instant after the gap (croner does this for rules with one minute and one hour; this crate
//! does it for every rule, as croniter does, so no change is lost). In a repeated hour a rule
//! with one minute and one hour fires once, at the first of the two instants; other rules
//! (`*/15 * * * *`) fire in both halves.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Offset, SubsecRound, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::{Cron, JobType};

mod plan;

pub use plan::{Plan, PlanCost, PlannedChange};

/// How far back a firing still sets the baseline.
const LOOK_BACK: TimeDelta = TimeDelta::days(366);

/// How far [`Schedule::next_change_after`] looks ahead. The rarest firing a crontab line can
/// describe is 29 February, eight years apart across 2100; one look-back window more covers a
/// change that comes from a firing dropping out of the window.
const LOOK_AHEAD: TimeDelta = TimeDelta::days(8 * 366 + 366);

/// What went wrong reading a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The line does not have five fields.
    #[error("`{expr}` has {found} fields; expected 5: minute hour day-of-month month day-of-week")]
    FieldCount {
        /// The line as written.
        expr: String,
        /// How many whitespace-separated fields it has.
        found: usize,
    },
    /// The line has five fields but one of them does not parse.
    #[error(
        "`{expr}` is not a valid cron expression: {reason}; expected 5 fields (minute hour day-of-month month day-of-week), each `*`, \
         a number, a range `1-5`, a list `1,15`, a step `*/15`, or names MON-SUN and JAN-DEC"
    )]
    InvalidCron {
        /// The line as written.
        expr: String,
        /// Why the parser refused it.
        reason: String,
    },
    /// The line parses but names no date that exists, like `0 0 30 2 *`.
    #[error("`{expr}` never fires: no date matches it; expected a day that exists in its months")]
    NeverFires {
        /// The line as written.
        expr: String,
    },
    /// One rule of a schedule is wrong; `index` counts from 0 in the order given.
    #[error("rule {index}: {error}")]
    Rule {
        /// The rule's position in the schedule, from 0.
        index: usize,
        /// What is wrong with it.
        error: Box<Error>,
    },
}

/// One crontab line and the quantity it sets from the moment it fires.
#[derive(Debug, Clone)]
pub struct Rule {
    cron: Cron,
    text: String,
    quantity: u32,
    /// croner moves a skipped firing past a daylight-saving gap only for a rule with one minute
    /// and one hour; the others are moved here.
    fixed_time: bool,
}

impl Rule {
    /// Parses a five-field crontab line (see the [crate docs](crate#crontab-dialect)).
    ///
    /// # Errors
    ///
    /// [`Error::FieldCount`], [`Error::InvalidCron`] or [`Error::NeverFires`], each naming `cron`.
    pub fn new(cron: &str, quantity: u32) -> Result<Rule, Error> {
        let text = cron.trim();
        let fields: Vec<&str> = text.split_whitespace().collect();
        let nickname = fields.len() == 1 && text.starts_with('@');
        if fields.len() != 5 && !nickname {
            return Err(Error::FieldCount {
                expr: cron.to_owned(),
                found: fields.len(),
            });
        }
        let invalid = |reason: String| Error::InvalidCron {
            expr: cron.to_owned(),
            reason,
        };
        // croner reads a leading `+` on day-of-week as "day-of-month AND day-of-week", which no
        // crontab does; refusing it keeps the OR rule the only one.
        if fields.get(4).is_some_and(|dow| dow.starts_with('+')) {
            return Err(invalid(
                "day-of-week may not start with `+`; when day-of-month and day-of-week are both \
                 restricted, either one matching fires the rule"
                    .to_owned(),
            ));
        }
        let parsed = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(text)
            .map_err(|e| invalid(e.to_string()))?;
        let rule = Rule {
            fixed_time: parsed.determine_job_type() == JobType::FixedTime,
            cron: parsed,
            text: cron.to_owned(),
            quantity,
        };
        // Every real date pattern recurs within the 400-year Gregorian cycle, so one that does not
        // fire in 2000..2400 never does, and would make every later search run to croner's limit.
        let cycle_start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        let cycle_end = Utc.with_ymd_and_hms(2400, 1, 1, 0, 0, 0).single();
        match (cycle_start, cycle_end) {
            (Some(start), Some(end))
                if rule
                    .next_after(start, chrono_tz::UTC)
                    .is_some_and(|t| t < end) =>
            {
                Ok(rule)
            }
            _ => Err(Error::NeverFires {
                expr: cron.to_owned(),
            }),
        }
    }

    /// The line as written.
    pub fn cron(&self) -> &str {
        &self.text
    }

    /// The quantity the rule sets.
    pub fn quantity(&self) -> u32 {
        self.quantity
    }

    /// The first firing strictly after `at`, reading the line in `timezone`.
    pub fn next_after(&self, at: DateTime<Utc>, timezone: Tz) -> Option<DateTime<Utc>> {
        // Firings fall on whole minutes, so dropping `at`'s fraction of a second changes no answer
        // and keeps croner's second-by-second cursor aligned.
        let local = at.trunc_subsecs(0).with_timezone(&timezone);
        let next = self
            .cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))?;
        if self.fixed_time {
            return Some(next);
        }
        let moved = gaps(timezone, at, next).find(|gap| self.fires_in(gap));
        Some(moved.map_or(next, |gap| gap.at))
    }

    /// The last firing at or before `at` (a firing during `at`'s minute, up to `at`, counts),
    /// reading the line in `timezone`.
    pub fn last_at_or_before(&self, at: DateTime<Utc>, timezone: Tz) -> Option<DateTime<Utc>> {
        let local = at.trunc_subsecs(0).with_timezone(&timezone);
        let last = self
            .cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))?;
        if self.fixed_time {
            return Some(last);
        }
        let moved = gaps(timezone, last, at)
            .filter(|gap| self.fires_in(gap))
            .last();
        Some(moved.map_or(last, |gap| gap.at))
    }

    /// Whether `other` fires at every instant this rule fires at (a sufficient test, not a
    /// necessary one): its minutes, hours and months include ours, its days are the same, and it
    /// fires in both halves of a repeated hour if we do.
    fn fires_within(&self, other: &Rule) -> bool {
        let (ours, theirs) = (&self.cron.pattern, &other.cron.pattern);
        let includes = |a: &croner::CronComponent, b: &croner::CronComponent| {
            let b = b.values();
            a.values().iter().all(|v| b.contains(v))
        };
        includes(&ours.minutes, &theirs.minutes)
            && includes(&ours.hours, &theirs.hours)
            && includes(&ours.months, &theirs.months)
            && ours.days == theirs.days
            && ours.days_of_week == theirs.days_of_week
            && ours.is_dom_wildcard() == theirs.is_dom_wildcard()
            && ours.is_dow_wildcard() == theirs.is_dow_wildcard()
            && (self.fixed_time || !other.fixed_time)
    }

    /// Whether the line names a wall clock minute that `gap` skips.
    fn fires_in(&self, gap: &Gap) -> bool {
        let mut minute = gap.skipped_from;
        while minute < gap.skipped_to {
            if self.cron.is_time_matching(&minute).unwrap_or(false) {
                return true;
            }
            minute += TimeDelta::minutes(1);
        }
        false
    }
}

/// A daylight-saving gap: at instant `at` the wall clock jumps from `skipped_from` to
/// `skipped_to`, so the wall clock times in between never happen.
#[derive(Debug)]
struct Gap {
    at: DateTime<Utc>,
    skipped_from: NaiveDateTime,
    skipped_to: NaiveDateTime,
}

/// The gaps of `timezone` in `(from, to]`, in order.
///
/// Offsets are compared a week apart, which finds every gap of a zone whose changes are at least
/// a week apart (all of today's tz database); a change is then pinned to the second.
fn gaps(timezone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = Gap> {
    const STRIDE: TimeDelta = TimeDelta::weeks(1);
    let offset = move |at: DateTime<Utc>| {
        timezone
            .offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let mut start = from;
    std::iter::from_fn(move || {
        while start < to {
            let end = start.checked_add_signed(STRIDE).map_or(to, |e| e.min(to));
            let (before, after) = (offset(start), offset(end));
            let chunk_start = start;
            start = end;
            if after <= before {
                continue;
            }
            // Narrow (lo, hi] down to the first second with the new offset.
            let (mut lo, mut hi) = (chunk_start, end);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            // Offsets change on whole seconds, and the one in (lo, hi] is the one hi rounds to.
            let at = hi.trunc_subsecs(0);
            let wall = |seconds: i32| at.naive_utc() + TimeDelta::seconds(i64::from(seconds));
            return Some(Gap {
                at,
                skipped_from: wall(before),
                skipped_to: wall(offset(at)),
            });
        }
        None
    })
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` → {}", self.text, self.quantity)
    }
}

/// An instant at which the baseline takes a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// When the new value starts (RFC 3339 in JSON).
    pub at: DateTime<Utc>,
    /// The baseline from then on.
    pub quantity: u32,
}

/// Rules in a time zone, with the quantity to use when none of them fired in the last 366 days.
#[derive(Debug, Clone)]
pub struct Schedule {
    rules: Vec<Rule>,
    timezone: Tz,
    fallback: u32,
    /// Per rule, whether a later rule fires whenever it does, so it never sets the baseline. The
    /// walk skips these: otherwise a rule firing every minute under an identical later one would
    /// cost a visit per minute of look-ahead.
    shadowed: Vec<bool>,
}

impl Schedule {
    /// A schedule of `rules` (later ones win ties) read in `timezone`; `fallback` is the baseline
    /// when no rule fired in the 366-day look-back (the app's `min`).
    pub fn new(rules: Vec<Rule>, timezone: Tz, fallback: u32) -> Schedule {
        let shadowed = (0..rules.len())
            .map(|i| {
                rules[i + 1..]
                    .iter()
                    .any(|later| rules[i].fires_within(later))
            })
            .collect();
        Schedule {
            rules,
            timezone,
            fallback,
            shadowed,
        }
    }

    /// Parses `(cron, quantity)` pairs into a schedule.
    ///
    /// # Errors
    ///
    /// Every rule that does not parse, each as [`Error::Rule`] with its index and text.
    pub fn parse<'a>(
        rules: impl IntoIterator<Item = (&'a str, u32)>,
        timezone: Tz,
        fallback: u32,
    ) -> Result<Schedule, Vec<Error>> {
        let mut parsed = Vec::new();
        let mut errors = Vec::new();
        for (index, (cron, quantity)) in rules.into_iter().enumerate() {
            match Rule::new(cron, quantity) {
                Ok(rule) => parsed.push(rule),
                Err(error) => errors.push(Error::Rule {
                    index,
                    error: Box::new(error),
                }),
            }
        }
        if errors.is_empty() {
            Ok(Schedule::new(parsed, timezone, fallback))
        } else {
            Err(errors)
        }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The time zone the rules are read in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The baseline when no rule fired in the look-back window.
    pub fn fallback(&self) -> u32 {
        self.fallback
    }

    /// The baseline at `at`: the quantity of the rule that fired last at or before `at` (later in
    /// the list on a tie), if that was less than 366 days before; else the fallback.
    pub fn baseline_at(&self, at: DateTime<Utc>) -> u32 {
        self.state_at(at).0
    }

    /// The first change of the baseline strictly after `at`, looking up to nine years ahead
    /// (enough for any crontab line to fire); `None` when it keeps its value that long.
    pub fn next_change_after(&self, at: DateTime<Utc>) -> Option<Change> {
        let until = at
            .checked_add_signed(LOOK_AHEAD)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Walker::new(self, at).next_change(until)
    }

    /// Every change of the baseline in `(from, to]`, in order; an instant where rules fire but the
    /// value stays the same is not a change.
    pub fn changes(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Change> {
        let mut walker = Walker::new(self, from);
        let mut changes = Vec::new();
        while let Some(change) = walker.next_change(to) {
            changes.push(change);
        }
        changes
    }

    /// The integral of the baseline over `[from, to)`, in dyno-hours; 0 when `to` is not after
    /// `from`.
    pub fn dyno_hours(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        if to <= from {
            return 0.0;
        }
        let mut walker = Walker::new(self, from);
        let (mut since, mut quantity) = (from, walker.value);
        // Summed exactly in dyno-nanoseconds and divided once, so whole hours come out whole.
        let mut dyno_nanos: i128 = 0;
        while let Some(change) = walker.next_change(to) {
            dyno_nanos += i128::from(quantity) * nanos_between(since, change.at);
            (since, quantity) = (change.at, change.quantity);
        }
        dyno_nanos += i128::from(quantity) * nanos_between(since, to);
        dyno_nanos as f64 / 3.6e12
    }

    /// The baseline at `at`, and the instant of the firing that set it.
    fn state_at(&self, at: DateTime<Utc>) -> (u32, Option<DateTime<Utc>>) {
        let mut best: Option<(DateTime<Utc>, u32)> = None;
        for rule in &self.rules {
            let Some(fired) = rule.last_at_or_before(at, self.timezone) else {
                continue;
            };
            let in_window = at - fired < LOOK_BACK;
            // `>=` lets a later rule take a tie.
            if in_window && best.is_none_or(|(latest, _)| fired >= latest) {
                best = Some((fired, rule.quantity));
            }
        }
        match best {
            Some((fired, quantity)) => (quantity, Some(fired)),
            None => (self.fallback, None),
        }
    }

    /// The latest firing of any rule at or before `at`, however old.
    fn latest_firing(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.rules
            .iter()
            .filter_map(|rule| rule.last_at_or_before(at, self.timezone))
            .max()
    }
}

fn nanos_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i128 {
    let span = to - from;
    i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos())
}

/// Walks the baseline forward from an instant, one change at a time.
///
/// Only rules whose quantity differs from the current value can change it, so only their firings
/// are visited; rules that would keep the value are looked at only to break ties at a visited
/// firing, and to see whether the value drops to the fallback because nothing fired for 366 days.
/// The walk costs one visit per firing that a later rule overrides before the next change, so a
/// frequent rule always overridden by an identical or wider later one is left out up front.
#[derive(Debug)]
struct Walker<'s> {
    schedule: &'s Schedule,
    /// Where the walk stands; `value` is the baseline there.
    at: DateTime<Utc>,
    value: u32,
    /// A firing at or before `at` inside the look-back window, the latest one as far as the walk
    /// has seen; `None` only while no rule fired in the window.
    latest: Option<DateTime<Utc>>,
    /// Each rule's first firing after some instant at or before `at`, kept while still ahead.
    next: Vec<Option<DateTime<Utc>>>,
}

impl<'s> Walker<'s> {
    fn new(schedule: &'s Schedule, at: DateTime<Utc>) -> Self {
        let (value, latest) = schedule.state_at(at);
        Walker {
            schedule,
            at,
            value,
            latest,
            next: vec![None; schedule.rules.len()],
        }
    }

    /// The first firing of rule `index` strictly after `self.at`.
    fn next_firing(&mut self, index: usize) -> Option<DateTime<Utc>> {
        if let Some(cached) = self.next[index].filter(|t| *t > self.at) {
            return Some(cached);
        }
        let rule = &self.schedule.rules[index];
        // A search that does not move forward would stall the walk; none should, but a walk
        // that ends early beats one that never ends.
        let found = rule
            .next_after(self.at, self.schedule.timezone)
            .filter(|t| *t > self.at);
        self.next[index] = found;
        found
    }

    /// Whether rule `index` fires at `t` (a firing instant, after `self.at`).
    fn fires_at(&mut self, index: usize, t: DateTime<Utc>) -> bool {
        // The rule's first firing after `self.at` answers unless it comes before `t`; it is
        // cached, so a rule that fires rarely is searched once for many instants.
        match self.next_firing(index) {
            Some(first) if first < t => {
                let rule = &self.schedule.rules[index];
                rule.next_after(t - TimeDelta::seconds(1), self.schedule.timezone) == Some(t)
            }
            first => first == Some(t),
        }
    }

    /// The next change in `(self.at, until]`, moving the walk to it, or to `until` when none.
    fn next_change(&mut self, until: DateTime<Utc>) -> Option<Change> {
        loop {
            let mut candidate: Option<DateTime<Utc>> = None;
            for index in 0..self.schedule.rules.len() {
                if self.schedule.rules[index].quantity == self.value
                    || self.schedule.shadowed[index]
                {
                    continue;
                }
                if let Some(t) = self.next_firing(index) {
                    candidate = Some(candidate.map_or(t, |c| c.min(t)));
                }
            }
            let limit = candidate.map_or(until, |t| t.min(until));
            if let Some(expired) = self.expiry(limit) {
                self.at = expired;
                self.latest = None;
                self.value = self.schedule.fallback;
                return Some(Change {
                    at: expired,
                    quantity: self.value,
                });
            }
            let Some(t) = candidate.filter(|t| *t <= until) else {
                self.at = self.at.max(until);
                return None;
            };
            // Several rules may fire at `t`; the last of them in the list sets the value.
            let mut winner = self.value;
            for index in (0..self.schedule.rules.len()).rev() {
                if !self.schedule.shadowed[index] && self.fires_at(index, t) {
                    winner = self.schedule.rules[index].quantity;
                    break;
                }
            }
            self.at = t;
            self.latest = Some(t);
            if winner != self.value {
                self.value = winner;
                return Some(Change {
                    at: t,
                    quantity: winner,
                });
            }
        }
    }

    /// The first instant in `(self.at, limit]` at which the latest firing leaves the look-back
    /// window with no rule firing in between, when that changes the value.
    fn expiry(&mut self, limit: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.value == self.schedule.fallback {
            return None;
        }
        let seen = self.latest?;
        // `latest` may lag behind firings the walk skipped, which only makes it earlier, so a
        // window that outlasts `limit` from it outlasts `limit` from the true latest too.
        if seen.checked_add_signed(LOOK_BACK)? > limit {
            return None;
        }
        let mut fired = self
            .schedule
            .latest_firing(self.at)
            .unwrap_or(seen)
            .max(seen);
        loop {
            let expires = fired.checked_add_signed(LOOK_BACK)?;
            if expires > limit {
                self.latest = Some(fired);
                return None;
            }
            match self.schedule.latest_firing(expires) {
                Some(later) if later > fired => fired = later,
                _ => return Some(expires),
            }
        }
    }
}
