//! The job payloads and timestamps read from the datastores, parsed as each library writes them.
//!
//! Everything here takes bytes from the app's datastore, which autoscaled does not control: each
//! parser returns a [`Problem`] (what was read, what was expected) on anything it does not
//! recognise, never panics, and never echoes a job's payload (its arguments are the app's data).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// What was wrong with a value read from the datastore, for [`crate::Error::MalformedJob`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// The field or part read: `"enqueued_at"`, `"the job"`.
    pub(crate) what: &'static str,
    /// What was found, shortened, or a description of it where the value itself is the app's data.
    pub(crate) found: String,
    /// What the library writes there.
    pub(crate) expected: &'static str,
}

/// The longest excerpt of a bad timestamp shown in an error.
const EXCERPT: usize = 40;

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(EXCERPT).collect();
    if text.chars().count() > EXCERPT {
        shown.push('…');
    }
    format!("{shown:?}")
}

fn json_object(
    bytes: &[u8],
    expected: &'static str,
) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem {
            what: "the job",
            found: "JSON that is not an object".to_owned(),
            expected,
        }),
        Err(_) => Err(Problem {
            what: "the job",
            found: "not JSON".to_owned(),
            expected,
        }),
    }
}

/// Epoch seconds (with a fraction) as a time, if it is one a clock can show.
fn from_epoch_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    // Ten thousand years either way: beyond that the multiplication below saturates to nonsense.
    if !seconds.is_finite() || seconds.abs() > 3.2e11 {
        return None;
    }
    DateTime::from_timestamp_micros((seconds * 1e6).round() as i64)
}

/// When a Sidekiq job (a JSON object in `queue:NAME`) was enqueued: its `enqueued_at`, or its
/// `created_at` where a job has none. Sidekiq 8 writes integer epoch milliseconds, earlier versions
/// float epoch seconds; as Sidekiq's own `Queue#latency` does, the JSON number's kind tells them
/// apart.
pub(crate) fn sidekiq_enqueued_at(job: &[u8]) -> Result<DateTime<Utc>, Problem> {
    const EXPECTED: &str = "a Sidekiq job: a JSON object with enqueued_at as epoch seconds (a \
                            float, Sidekiq 6-7) or epoch milliseconds (an integer, Sidekiq 8)";
    let object = json_object(job, EXPECTED)?;
    let (what, value) = match (object.get("enqueued_at"), object.get("created_at")) {
        (Some(value), _) => ("enqueued_at", value),
        (None, Some(value)) => ("created_at", value),
        (None, None) => {
            return Err(Problem {
                what: "enqueued_at",
                found: "no enqueued_at nor created_at".to_owned(),
                expected: EXPECTED,
            });
        }
    };
    let bad = || Problem {
        what,
        found: excerpt(value.to_string().as_bytes()),
        expected: EXPECTED,
    };
    let Value::Number(number) = value else {
        return Err(bad());
    };
    let time = if number.is_f64() {
        number.as_f64().and_then(from_epoch_seconds)
    } else {
        number.as_i64().and_then(DateTime::from_timestamp_millis)
    };
    time.ok_or_else(bad)
}

/// An RQ job hash's `enqueued_at`: `%Y-%m-%dT%H:%M:%S.%fZ`, UTC (rq/utils.py `utcformat`).
pub(crate) fn rq_enqueued_at(text: &[u8]) -> Result<DateTime<Utc>, Problem> {
    let bad = || Problem {
        what: "enqueued_at",
        found: excerpt(text),
        expected: "an RQ timestamp like 2026-12-07T14:20:00.123456Z (UTC)",
    };
    let text = std::str::from_utf8(text).map_err(|_| bad())?;
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map(|naive| naive.and_utc())
        .map_err(|_| bad())
}

/// When a BullMQ job became ready: its hash's `timestamp` (epoch milliseconds, when it was added)
/// plus its `delay` (milliseconds; a delayed job joins `wait` only once that has passed).
pub(crate) fn bullmq_ready_at(
    timestamp: Option<&[u8]>,
    delay: Option<&[u8]>,
) -> Result<DateTime<Utc>, Problem> {
    const EXPECTED: &str = "epoch milliseconds, an integer (BullMQ's job hash)";
    let millis = |what: &'static str, bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(|| Problem {
                what,
                found: excerpt(bytes),
                expected: EXPECTED,
            })
    };
    let Some(timestamp) = timestamp else {
        return Err(Problem {
            what: "timestamp",
            found: "no timestamp field".to_owned(),
            expected: EXPECTED,
        });
    };
    let added = millis("timestamp", timestamp)?;
    let delay = delay
        .map(|delay| millis("delay", delay))
        .transpose()?
        .unwrap_or(0);
    added
        .checked_add(delay.max(0))
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| Problem {
            what: "timestamp",
            found: excerpt(timestamp),
            expected: EXPECTED,
        })
}

/// When a Celery message (kombu's JSON envelope in the queue's list) was published, if the app
/// records it: `properties.published_at`, float epoch seconds (the header Judoscale's adapter
/// adds). Celery's own protocol carries no publish time, so `None` is the usual answer.
pub(crate) fn celery_published_at(message: &[u8]) -> Result<Option<DateTime<Utc>>, Problem> {
    const EXPECTED: &str = "a kombu message: a JSON object whose optional \
                            properties.published_at is epoch seconds";
    let object = json_object(message, EXPECTED)?;
    let Some(published) = object
        .get("properties")
        .and_then(|properties| properties.get("published_at"))
    else {
        return Ok(None);
    };
    published
        .as_f64()
        .and_then(from_epoch_seconds)
        .map(Some)
        .ok_or_else(|| Problem {
            what: "properties.published_at",
            found: excerpt(published.to_string().as_bytes()),
            expected: EXPECTED,
        })
}

/// The queue a running job belongs to, from the JSON its worker records (a Sidekiq `<process>:work`
/// hash value, a Resque `resque:worker:<id>` string): its top-level `queue`.
pub(crate) fn running_queue(work: &[u8]) -> Result<String, Problem> {
    const EXPECTED: &str = "a JSON object naming its queue";
    let object = json_object(work, EXPECTED)?;
    match object.get("queue") {
        Some(Value::String(queue)) => Ok(queue.clone()),
        other => Err(Problem {
            what: "queue",
            found: other.map_or_else(
                || "no queue".to_owned(),
                |value| excerpt(value.to_string().as_bytes()),
            ),
            expected: EXPECTED,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sidekiq_tells_seconds_from_milliseconds_by_the_number_kind() {
        let seconds = sidekiq_enqueued_at(br#"{"enqueued_at":1765117200.5}"#).unwrap();
        let millis = sidekiq_enqueued_at(br#"{"enqueued_at":1765117200500}"#).unwrap();
        assert_eq!(seconds, millis);
        assert_eq!(seconds.to_rfc3339(), "2025-12-07T14:20:00.500+00:00");
        // A whole float is still seconds (Ruby writes 1765117200.0).
        let whole = sidekiq_enqueued_at(br#"{"enqueued_at":1765117200.0}"#).unwrap();
        assert_eq!(whole.timestamp(), 1_765_117_200);
        let created = sidekiq_enqueued_at(br#"{"created_at":1765117200.0}"#).unwrap();
        assert_eq!(created, whole);
    }

    #[test]
    fn sidekiq_problems_name_the_field_and_hide_the_payload() {
        let problem =
            sidekiq_enqueued_at(br#"{"args":["secret"],"enqueued_at":"yesterday"}"#).unwrap_err();
        assert_eq!(problem.what, "enqueued_at");
        assert_eq!(problem.found, r#""\"yesterday\"""#);
        let problem = sidekiq_enqueued_at(br#"{"args":["secret"]"#).unwrap_err();
        assert_eq!(problem.found, "not JSON");
        assert!(sidekiq_enqueued_at(br#"{"args":["secret"]}"#).is_err());
        assert!(sidekiq_enqueued_at(b"[1]").is_err());
        assert!(sidekiq_enqueued_at(br#"{"enqueued_at":1e300}"#).is_err());
    }

    #[test]
    fn rq_reads_its_own_format() {
        let time = rq_enqueued_at(b"2026-12-07T14:20:00.123456Z").unwrap();
        assert_eq!(time.timestamp_subsec_micros(), 123_456);
        assert!(rq_enqueued_at(b"2026-12-07 14:20:00").is_err());
        assert!(rq_enqueued_at(b"\xff").is_err());
    }

    #[test]
    fn bullmq_adds_the_delay() {
        let time = bullmq_ready_at(Some(b"1765117200000"), Some(b"1500")).unwrap();
        assert_eq!(time.timestamp_millis(), 1_765_117_201_500);
        assert!(bullmq_ready_at(None, None).is_err());
        assert_eq!(
            bullmq_ready_at(Some(b"x"), None).unwrap_err().what,
            "timestamp"
        );
        assert_eq!(
            bullmq_ready_at(Some(b"1"), Some(b"y")).unwrap_err().what,
            "delay"
        );
    }

    #[test]
    fn celery_without_a_publish_time_has_no_latency() {
        assert_eq!(celery_published_at(br#"{"properties":{}}"#), Ok(None));
        let time = celery_published_at(br#"{"properties":{"published_at":1765117200.25}}"#);
        assert_eq!(time.unwrap().unwrap().timestamp_millis(), 1_765_117_200_250);
        assert!(celery_published_at(br#"{"properties":{"published_at":"now"}}"#).is_err());
    }

    proptest! {
        #[test]
        fn no_parser_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = sidekiq_enqueued_at(&bytes);
            let _ = rq_enqueued_at(&bytes);
            let _ = bullmq_ready_at(Some(&bytes), Some(&bytes));
            let _ = celery_published_at(&bytes);
            let _ = running_queue(&bytes);
        }

        #[test]
        fn no_parser_panics_on_any_number(text in "-?[0-9]{0,30}(\\.[0-9]{0,20})?(e-?[0-9]{1,4})?") {
            let _ = sidekiq_enqueued_at(format!(r#"{{"enqueued_at":{text}}}"#).as_bytes());
            let _ = celery_published_at(format!(r#"{{"properties":{{"published_at":{text}}}}}"#).as_bytes());
            let _ = bullmq_ready_at(Some(text.as_bytes()), Some(text.as_bytes()));
        }

        #[test]
        fn every_time_a_library_writes_reads_back(micros in 0i64..4_102_444_800_000_000) {
            let time = DateTime::from_timestamp_micros(micros).unwrap();
            let rq = time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            prop_assert_eq!(rq_enqueued_at(rq.as_bytes()).unwrap(), time);
            let millis = time.timestamp_millis();
            let sidekiq8 = format!(r#"{{"enqueued_at":{millis}}}"#);
            prop_assert_eq!(sidekiq_enqueued_at(sidekiq8.as_bytes()).unwrap().timestamp_millis(), millis);
            let seconds = micros as f64 / 1e6;
            let sidekiq6 = serde_json::json!({ "enqueued_at": seconds }).to_string();
            let read = sidekiq_enqueued_at(sidekiq6.as_bytes()).unwrap();
            prop_assert!((read - time).num_microseconds().unwrap().abs() <= 1);
        }
    }
}
