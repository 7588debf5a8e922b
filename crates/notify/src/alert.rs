use std::fmt::{self, Write as _};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::gsm;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AlertKind {
    /// The app stopped answering its probe; autoscaled went to `max`.
    Outage,
    /// The app has answered its probe again for a while after an outage.
    Recovery,
    /// Heroku kept refusing a scaling call after the retries.
    ScaleFailed,
    /// Heroku rejected the API key: autoscaled can no longer act on the app.
    CredentialsRejected,
    /// A worker's job queues could not be read from the app's datastore for a while: its dynos
    /// stay as they are until they can.
    QueueUnreadable,
    /// A worker's job queues are read again after a [`AlertKind::QueueUnreadable`].
    QueueReadable,
}

impl AlertKind {
    fn label(self) -> &'static str {
        match self {
            Self::Outage => "outage",
            Self::Recovery => "recovery",
            Self::ScaleFailed => "scaling failed",
            Self::CredentialsRejected => "credentials rejected",
            Self::QueueUnreadable => "job queue unreadable",
            Self::QueueReadable => "job queue read again",
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A change of dyno quantity, and how far it had got when the alert was written (an
/// [`AlertKind::ScaleFailed`] always reads as failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    /// Quantity before.
    pub from: u32,
    /// Quantity after (or wanted).
    pub to: u32,
    /// Whether Heroku has done it: an alert says only what is known to have happened.
    pub progress: Progress,
}

/// How far a change of dyno quantity had got when an alert was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Heroku answered with the new quantity: `scaled 1 → 3`.
    Done,
    /// Asked of Heroku, not answered yet: `scaling 1 → 3` (a failure gets an alert of its own).
    Asked,
    /// Heroku's API cannot be reached (its latest call got no answer), so nothing could be
    /// changed: `Heroku's API cannot be reached, so it could not scale to 3`. It is asked again
    /// until it answers.
    Unreachable,
}

/// What the probe saw over its recent window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeFigures {
    /// Median response time of the probes that answered; `None` when none did.
    pub p50: Option<Duration>,
    /// 95th percentile response time of the probes that answered; `None` when none did.
    pub p95: Option<Duration>,
    /// Share of probes that were down, from 0.0 to 1.0.
    pub share_down: f64,
    /// How many probes the figures cover.
    pub count: u32,
}

impl ProbeFigures {
    fn percent_down(&self) -> u32 {
        // A NaN share (0 of 0) reads as 0 %; out-of-range values are clamped, never shown as 250 %.
        let share = if self.share_down.is_finite() {
            self.share_down.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Clamped to 0..=100 above, so the cast cannot truncate.
        (share * 100.0).round() as u32
    }
}

/// Alerts of the same kind for the same app that were not sent because one went out less than
/// `alert_every` before; the next alert that goes out reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldBack {
    /// How many were held back.
    pub count: u32,
    /// When the first of them happened.
    pub since: DateTime<Utc>,
}

/// One alert: what happened to which app, what autoscaled did about it, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// What the alert is about.
    pub kind: AlertKind,
    /// The Heroku app name.
    pub app: String,
    /// The process type (usually `web`).
    pub process: String,
    /// What happened, in a few words: `down (HTTP 503)`, `answering again`,
    /// `Heroku refused the change (HTTP 429)`.
    pub what: String,
    /// The quantity change autoscaled made (or tried, for [`AlertKind::ScaleFailed`]), if any.
    pub scaling: Option<Scaling>,
    /// The probe's figures, when the alert comes from probing.
    pub probe: Option<ProbeFigures>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The app's time zone, to show the local time beside UTC.
    pub timezone: Tz,
}

impl Alert {
    /// An alert of `kind` about `app`'s `process` at `at`, without scaling or probe figures;
    /// `timezone` is the app's, for the local time beside UTC.
    pub fn new(
        kind: AlertKind,
        app: &str,
        process: &str,
        what: String,
        at: DateTime<Utc>,
        timezone: Tz,
    ) -> Alert {
        Alert {
            kind,
            app: app.to_owned(),
            process: process.to_owned(),
            what,
            scaling: None,
            probe: None,
            at,
            timezone,
        }
    }

    /// The app stopped answering its probe for `reason` (`HTTP 503`): `down (HTTP 503)`.
    pub fn outage(
        app: &str,
        process: &str,
        reason: &str,
        at: DateTime<Utc>,
        timezone: Tz,
    ) -> Alert {
        let what = format!("down ({reason})");
        Alert::new(AlertKind::Outage, app, process, what, at, timezone)
    }

    /// The app answers its probe again; `what` says how (`answering again`).
    pub fn recovery(
        app: &str,
        process: &str,
        what: &str,
        at: DateTime<Utc>,
        timezone: Tz,
    ) -> Alert {
        Alert::new(
            AlertKind::Recovery,
            app,
            process,
            what.to_owned(),
            at,
            timezone,
        )
    }

    /// A call setting `process` to `to` dynos still failed with `error` after the retries; an
    /// [`AlertKind::CredentialsRejected`] when `credentials_rejected`, else a
    /// [`AlertKind::ScaleFailed`].
    pub fn scale_failed(
        app: &str,
        process: &str,
        to: u32,
        error: &dyn fmt::Display,
        credentials_rejected: bool,
        at: DateTime<Utc>,
        timezone: Tz,
    ) -> Alert {
        let kind = if credentials_rejected {
            AlertKind::CredentialsRejected
        } else {
            AlertKind::ScaleFailed
        };
        let what = format!("could not set {process} to {to}: {error}");
        Alert::new(kind, app, process, what, at, timezone)
    }

    /// Heroku answered a call setting `process` to `to` dynos with `got` instead (a plan's dyno
    /// limit, say): an [`AlertKind::ScaleFailed`].
    pub fn scale_capped(
        app: &str,
        process: &str,
        to: u32,
        got: u32,
        at: DateTime<Utc>,
        timezone: Tz,
    ) -> Alert {
        let what = format!("could not set {process} to {to}: Heroku set {got} instead");
        Alert::new(AlertKind::ScaleFailed, app, process, what, at, timezone)
    }

    /// Heroku refused the API key with `error`: nothing can be scaled until someone replaces it.
    pub fn credentials_rejected(
        app: &str,
        process: &str,
        error: &dyn fmt::Display,
        at: DateTime<Utc>,
        timezone: Tz,
    ) -> Alert {
        let what = format!("Heroku rejected the API key: {error}");
        Alert::new(
            AlertKind::CredentialsRejected,
            app,
            process,
            what,
            at,
            timezone,
        )
    }

    /// With the change from `from` to `to` dynos, as far as it got (`progress`); none when `from`
    /// is `None`.
    #[must_use]
    pub fn scaled(mut self, from: Option<u32>, to: u32, progress: Progress) -> Alert {
        self.scaling = from.map(|from| Scaling { from, to, progress });
        self
    }

    /// With the probe's figures, when it ran at least once (`count > 0`).
    #[must_use]
    pub fn with_probe(mut self, probe: ProbeFigures) -> Alert {
        self.probe = (probe.count > 0).then_some(probe);
        self
    }

    /// The email subject, e.g. `[autoscaled] my-app web: down (HTTP 503), scaled 1 → 3`.
    pub fn subject(&self) -> String {
        let mut s = format!(
            "[autoscaled] {} {}: {}",
            self.app,
            self.process,
            one_line(&self.what)
        );
        if let Some(action) = self.action("→") {
            let _ = write!(s, "{}{action}", self.separator());
        }
        s
    }

    /// The plain-text email body: what happened, what was done, the probe figures, the time in
    /// UTC and in the app's zone, and what was held back since the last alert of this kind.
    pub fn email_body(&self, held: Option<HeldBack>) -> String {
        let mut b = String::new();
        // `write!` to a String cannot fail.
        let subject = self.subject();
        let _ = writeln!(
            b,
            "{}",
            subject.strip_prefix("[autoscaled] ").unwrap_or(&subject)
        );
        let _ = writeln!(b);
        let _ = writeln!(b, "Alert: {}", self.kind);
        let _ = writeln!(b, "What happened: {}", self.what);
        let did = self
            .action("→")
            .unwrap_or_else(|| "no change of dyno quantity".to_owned());
        let _ = writeln!(b, "What autoscaled did: {did}");
        if let Some(p) = &self.probe {
            let _ = writeln!(
                b,
                "Probe: p50 {}, p95 {}; {}% of the last {} probes down",
                latency(p.p50, " "),
                latency(p.p95, " "),
                p.percent_down(),
                p.count
            );
        }
        let _ = write!(b, "When: {}", self.at.format("%Y-%m-%d %H:%M:%S UTC"));
        if self.has_local_zone() {
            let local = self.at.with_timezone(&self.timezone);
            let _ = write!(
                b,
                " ({} in {})",
                local.format("%Y-%m-%d %H:%M:%S %Z"),
                self.timezone.name()
            );
        }
        let _ = writeln!(b);
        if let Some(h) = held {
            let _ = writeln!(b);
            let _ = writeln!(b, "{}.", self.held_text(h, true));
        }
        let _ = writeln!(b);
        let _ = writeln!(b, "-- ");
        let _ = writeln!(b, "Sent by autoscaled.");
        b
    }

    /// The SMS text: GSM-7 only and at most 160 units, so it goes out as one segment. The
    /// essentials come first; the time, the held-back count and the probe figures follow in that
    /// order while they fit.
    pub fn sms_text(&self, held: Option<HeldBack>) -> String {
        let mut head = format!("[autoscaled] {} {}: {}", self.app, self.process, self.what);
        if let Some(action) = self.action("->") {
            let _ = write!(head, "{}{action}", self.separator());
        }
        head.push('.');
        let mut text = gsm::truncate(&gsm::sanitize(&head), gsm::SEGMENT);

        let utc = self.at.format("%H:%M UTC").to_string();
        let mut when = vec![format!(" At {utc}.")];
        if self.has_local_zone() {
            let local = self.at.with_timezone(&self.timezone).format("%H:%M %Z");
            when.insert(0, format!(" At {utc} ({local})."));
        }
        push_first_that_fits(&mut text, &when);
        if let Some(h) = held {
            push_first_that_fits(
                &mut text,
                &[
                    format!(" {}.", self.held_text(h, false)),
                    format!(" +{} held back.", h.count),
                ],
            );
        }
        if let Some(p) = &self.probe {
            let down = format!("{}% down of {}", p.percent_down(), p.count);
            push_first_that_fits(
                &mut text,
                &[
                    format!(
                        " p50 {}, p95 {}, {down}.",
                        latency(p.p50, ""),
                        latency(p.p95, "")
                    ),
                    format!(" {down}."),
                ],
            );
        }
        text
    }

    fn action(&self, arrow: &str) -> Option<String> {
        self.scaling.map(|s| match (self.kind, s.progress) {
            (AlertKind::ScaleFailed, _) => format!("could not scale {} {arrow} {}", s.from, s.to),
            (_, Progress::Done) => format!("scaled {} {arrow} {}", s.from, s.to),
            (_, Progress::Asked) => format!("scaling {} {arrow} {}", s.from, s.to),
            (_, Progress::Unreachable) => format!(
                "Heroku's API cannot be reached, so it could not scale to {}",
                s.to
            ),
        })
    }

    /// Between what happened and the action: a sentence of its own when nothing could be done.
    fn separator(&self) -> &'static str {
        match self.scaling {
            Some(s)
                if s.progress == Progress::Unreachable && self.kind != AlertKind::ScaleFailed =>
            {
                "; "
            }
            _ => ", ",
        }
    }

    fn has_local_zone(&self) -> bool {
        !matches!(
            self.timezone,
            Tz::UTC | Tz::Etc__UTC | Tz::Etc__UCT | Tz::UCT | Tz::Zulu
        )
    }

    fn held_text(&self, h: HeldBack, long: bool) -> String {
        let since = if h.since.date_naive() == self.at.date_naive() {
            h.since.format("%H:%M UTC")
        } else {
            h.since.format("%Y-%m-%d %H:%M UTC")
        };
        let plural = if h.count == 1 { "" } else { "s" };
        if long {
            format!("{} similar alert{plural} held back since {since}", h.count)
        } else {
            format!("{} similar held back since {since}", h.count)
        }
    }
}

/// Subjects are one line: a header with a line break in it would be refused or, worse, split.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn latency(d: Option<Duration>, space: &str) -> String {
    match d {
        None => "n/a".to_owned(),
        Some(d) if d < Duration::from_secs(1) => format!("{}{space}ms", d.as_millis()),
        Some(d) => format!("{:.1}{space}s", d.as_secs_f64()),
    }
}

fn push_first_that_fits(text: &mut String, candidates: &[String]) {
    let used = gsm::len(text);
    for c in candidates {
        let c = gsm::sanitize(c);
        if used + gsm::len(&c) <= gsm::SEGMENT {
            text.push_str(&c);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn outage() -> Alert {
        Alert {
            kind: AlertKind::Outage,
            app: "my-app".into(),
            process: "web".into(),
            what: "down (HTTP 503)".into(),
            scaling: Some(Scaling {
                from: 1,
                to: 3,
                progress: Progress::Done,
            }),
            probe: Some(ProbeFigures {
                p50: Some(Duration::from_millis(120)),
                p95: Some(Duration::from_millis(9_800)),
                share_down: 0.4,
                count: 20,
            }),
            at: Utc.with_ymd_and_hms(2026, 11, 27, 3, 12, 5).unwrap(),
            timezone: chrono_tz::America::New_York,
        }
    }

    #[test]
    fn subject_says_what_happened_and_what_was_done() {
        assert_eq!(
            outage().subject(),
            "[autoscaled] my-app web: down (HTTP 503), scaled 1 → 3"
        );
        let mut failed = outage();
        failed.kind = AlertKind::ScaleFailed;
        failed.what = "Heroku refused the change\n(HTTP 429)".into();
        assert_eq!(
            failed.subject(),
            "[autoscaled] my-app web: Heroku refused the change (HTTP 429), could not scale 1 → 3"
        );
        failed.scaling = None;
        assert_eq!(
            failed.subject(),
            "[autoscaled] my-app web: Heroku refused the change (HTTP 429)"
        );
    }

    #[test]
    fn an_outage_says_scaled_only_once_heroku_did_it() {
        let at = outage().at;
        let tz = chrono_tz::UTC;
        let down = |progress| {
            Alert::outage("demo-app", "web", "HTTP 503", at, tz).scaled(Some(3), 6, progress)
        };
        // Written as the scale call goes out: asked, not done.
        let asked = down(Progress::Asked);
        assert_eq!(
            asked.subject(),
            "[autoscaled] demo-app web: down (HTTP 503), scaling 3 → 6"
        );
        let body = asked.email_body(None);
        assert!(
            body.contains("What autoscaled did: scaling 3 → 6\n") && !body.contains("scaled 3"),
            "{body}"
        );
        assert!(
            asked
                .sms_text(None)
                .starts_with("[autoscaled] demo-app web: down (HTTP 503), scaling 3 -> 6."),
            "{}",
            asked.sms_text(None)
        );
        // The Platform API gave no answer to its latest call: nothing was changed.
        let blind = down(Progress::Unreachable);
        assert_eq!(
            blind.subject(),
            "[autoscaled] demo-app web: down (HTTP 503); Heroku's API cannot be reached, so it could not scale to 6"
        );
        assert!(!blind.email_body(None).contains("scaled 3"));
        assert!(
            blind
                .sms_text(None)
                .contains("; Heroku's API cannot be reached, so it could not scale to 6."),
            "{}",
            blind.sms_text(None)
        );
        // Heroku had already answered with the quantity.
        assert_eq!(
            down(Progress::Done).subject(),
            "[autoscaled] demo-app web: down (HTTP 503), scaled 3 → 6"
        );
    }

    #[test]
    fn a_failing_scale_call_never_reads_as_done() {
        let at = outage().at;
        let tz = chrono_tz::UTC;
        let error = "cannot reach the Heroku API (timed out): operation timed out";
        for progress in [Progress::Done, Progress::Asked, Progress::Unreachable] {
            let failed = Alert::scale_failed("demo-app", "web", 6, &error, false, at, tz).scaled(
                Some(3),
                6,
                progress,
            );
            let subject = failed.subject();
            assert_eq!(
                subject,
                format!(
                    "[autoscaled] demo-app web: could not set web to 6: {error}, could not scale 3 → 6"
                )
            );
            let texts = [subject, failed.email_body(None), failed.sms_text(None)];
            for text in texts {
                assert!(
                    !text.contains("scaled 3") && !text.contains("scaling 3"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn body_shows_both_times_probe_figures_and_held_back() {
        let held = HeldBack {
            count: 3,
            since: Utc.with_ymd_and_hms(2026, 11, 27, 2, 50, 0).unwrap(),
        };
        let body = outage().email_body(Some(held));
        assert!(
            body.starts_with("my-app web: down (HTTP 503), scaled 1 → 3\n\nAlert: outage\n"),
            "{body}"
        );
        assert!(
            body.contains("What happened: down (HTTP 503)\nWhat autoscaled did: scaled 1 → 3\n"),
            "{body}"
        );
        assert!(
            body.contains("Probe: p50 120 ms, p95 9.8 s; 40% of the last 20 probes down"),
            "{body}"
        );
        assert!(
            body.contains(
                "When: 2026-11-27 03:12:05 UTC (2026-11-26 22:12:05 EST in America/New_York)"
            ),
            "{body}"
        );
        assert!(
            body.contains("3 similar alerts held back since 02:50 UTC."),
            "{body}"
        );
        let one = HeldBack {
            count: 1,
            since: Utc.with_ymd_and_hms(2026, 11, 26, 23, 0, 0).unwrap(),
        };
        assert!(
            outage()
                .email_body(Some(one))
                .contains("1 similar alert held back since 2026-11-26 23:00 UTC.")
        );
    }

    #[test]
    fn body_in_utc_shows_one_time_and_no_probe_line_without_figures() {
        let mut a = outage();
        a.timezone = Tz::UTC;
        a.probe = None;
        a.scaling = None;
        let body = a.email_body(None);
        assert!(body.contains("When: 2026-11-27 03:12:05 UTC\n"), "{body}");
        assert!(!body.contains("Probe:"), "{body}");
        assert!(
            body.contains("What autoscaled did: no change of dyno quantity"),
            "{body}"
        );
        assert!(!body.contains("held back"), "{body}");
    }

    #[test]
    fn sms_is_one_gsm_segment_with_everything_when_it_fits() {
        let held = HeldBack {
            count: 3,
            since: Utc.with_ymd_and_hms(2026, 11, 27, 2, 50, 0).unwrap(),
        };
        let sms = outage().sms_text(Some(held));
        assert_eq!(
            sms,
            "[autoscaled] my-app web: down (HTTP 503), scaled 1 -> 3. At 03:12 UTC (22:12 EST). \
             3 similar held back since 02:50 UTC. p50 120ms, p95 9.8s, 40% down of 20."
        );
        assert!(gsm::len(&sms) <= gsm::SEGMENT);
    }

    #[test]
    fn long_sms_drops_extras_then_truncates_the_head() {
        let mut a = outage();
        a.app = "a-rather-long-heroku-application-name".into();
        a.what = "down (connection refused by the router after 30 s: H12 timeouts)".into();
        let held = HeldBack {
            count: 12,
            since: a.at,
        };
        let sms = a.sms_text(Some(held));
        assert!(gsm::len(&sms) <= gsm::SEGMENT, "{} {sms}", gsm::len(&sms));
        assert!(sms.contains("scaled 1 -> 3. At 03:12 UTC"), "{sms}");

        a.what = "→ ".repeat(200);
        let sms = a.sms_text(None);
        assert_eq!(gsm::len(&sms), gsm::SEGMENT, "{sms}");
        assert!(sms.ends_with("..."), "{sms}");
        assert_eq!(sms, gsm::sanitize(&sms), "only GSM-7 characters: {sms}");
    }

    #[test]
    fn probe_share_is_clamped_and_missing_latency_is_shown() {
        let mut a = outage();
        a.probe = Some(ProbeFigures {
            p50: None,
            p95: None,
            share_down: f64::NAN,
            count: 0,
        });
        assert!(
            a.email_body(None)
                .contains("Probe: p50 n/a, p95 n/a; 0% of the last 0 probes down")
        );
        a.probe = Some(ProbeFigures {
            p50: None,
            p95: None,
            share_down: 2.5,
            count: 4,
        });
        assert!(a.sms_text(None).contains("100% down of 4"));
    }

    #[test]
    fn builders_compose_what_happened() {
        let at = outage().at;
        let tz = chrono_tz::America::New_York;
        let figures = outage().probe.unwrap();
        let built = Alert::outage("my-app", "web", "HTTP 503", at, tz)
            .scaled(Some(1), 3, Progress::Done)
            .with_probe(figures);
        assert_eq!(built, outage());

        let recovery = Alert::recovery("my-app", "web", "answering again", at, tz).scaled(
            None,
            1,
            Progress::Done,
        );
        assert_eq!(
            (recovery.kind, recovery.what.as_str(), recovery.scaling),
            (AlertKind::Recovery, "answering again", None)
        );

        let failed = Alert::scale_failed("my-app", "web", 3, &"HTTP 429", false, at, tz);
        assert_eq!(failed.kind, AlertKind::ScaleFailed);
        assert_eq!(failed.what, "could not set web to 3: HTTP 429");
        let rejected = Alert::scale_failed("my-app", "web", 3, &"HTTP 401", true, at, tz);
        assert_eq!(rejected.kind, AlertKind::CredentialsRejected);

        let capped = Alert::scale_capped("my-app", "web", 5, 4, at, tz);
        assert_eq!(capped.kind, AlertKind::ScaleFailed);
        assert_eq!(capped.what, "could not set web to 5: Heroku set 4 instead");

        let key = Alert::credentials_rejected("my-app", "web", &"HTTP 401", at, tz);
        assert_eq!(key.kind, AlertKind::CredentialsRejected);
        assert_eq!(key.what, "Heroku rejected the API key: HTTP 401");
    }

    #[test]
    fn probe_figures_only_when_the_probe_ran() {
        let at = outage().at;
        let none = ProbeFigures {
            p50: None,
            p95: None,
            share_down: 0.0,
            count: 0,
        };
        let alert = Alert::outage("my-app", "web", "timeout", at, chrono_tz::UTC).with_probe(none);
        assert_eq!(alert.probe, None);
    }
}
