//! [`EmailConfig`] and [`SmsConfig`] from the values a config file holds, with every problem named
//! by its field (`from`, `to[1]`) for the caller to prefix with where the table sits.
//!
//! Secret values (`smtp_url`, `auth_token`) are never repeated back in a message.

use secret::Secret;
use serde_json::Value;
use url::Url;

use crate::check::{
    check_account_sid, check_email_address, check_messaging_service_sid, check_phone_number,
    check_smtp_url,
};
use crate::{EmailConfig, Error, SmsConfig, SmsSender};

/// Twilio's API root, for an [`SmsConfig`] that names none.
pub const DEFAULT_TWILIO_API_URL: &str = "https://api.twilio.com";

/// What is wrong with one field: its name (`to[1]` for a list's entry) and the message.
pub type FieldProblem = (String, String);

type Check = fn(&str) -> Result<(), Error>;

#[derive(Default)]
struct Fields {
    problems: Vec<FieldProblem>,
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

impl Fields {
    fn problem(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push((field.into(), message.into()));
    }

    /// A value was there but wrong: name it (unless secret) and say what was expected.
    fn bad(&mut self, field: &str, value: &Value, expected: &str, secret: bool) {
        let shown = if secret {
            "[redacted]".to_owned()
        } else {
            show(value)
        };
        self.problem(field, format!("{shown} is not valid: expected {expected}"));
    }

    fn string(&mut self, field: &str, value: Option<&Value>) -> Option<String> {
        match value {
            None => {
                self.problem(field, "missing; this key is required");
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(other) => {
                self.bad(field, other, "a non-empty string", false);
                None
            }
        }
    }

    fn optional_string(&mut self, field: &str, value: Option<&Value>) -> Option<String> {
        value.and_then(|value| self.string(field, Some(value)))
    }

    /// `value` when `check` accepts it; otherwise a problem at `field` naming the value.
    fn checked(&mut self, field: &str, value: String, check: Check) -> Option<String> {
        match check(&value) {
            Ok(()) => Some(value),
            Err(e) => {
                self.problem(field, format!("\"{value}\" is not valid: {e}"));
                None
            }
        }
    }

    /// The list (at least one entry) of strings, each trimmed and named by its place.
    fn string_list(&mut self, field: &str, value: Option<&Value>) -> Vec<(String, String)> {
        match value {
            None => {
                self.problem(field, "missing; list at least one recipient");
                Vec::new()
            }
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let item_field = format!("{field}[{i}]");
                    match item.as_str() {
                        Some(s) => Some((item_field, s.trim().to_owned())),
                        None => {
                            self.bad(&item_field, item, "a string", false);
                            None
                        }
                    }
                })
                .collect(),
            Some(other) => {
                self.bad(field, other, "a non-empty list of strings", false);
                Vec::new()
            }
        }
    }

    /// The list, each entry checked once every entry is known to be a string; the bad ones are
    /// reported.
    fn checked_list(&mut self, field: &str, value: Option<&Value>, check: Check) -> Vec<String> {
        self.string_list(field, value)
            .into_iter()
            .filter_map(|(item_field, value)| self.checked(&item_field, value, check))
            .collect()
    }

    fn done<T>(self, built: Option<T>) -> Result<T, Vec<FieldProblem>> {
        match built {
            Some(built) if self.problems.is_empty() => Ok(built),
            _ => Err(self.problems),
        }
    }
}

impl EmailConfig {
    /// From a config table's `smtp_url`, `from` and `to` (a list), each `None` when absent.
    pub fn from_values(
        smtp_url: Option<&Value>,
        from: Option<&Value>,
        to: Option<&Value>,
    ) -> Result<Self, Vec<FieldProblem>> {
        let mut f = Fields::default();
        let smtp_url = match smtp_url {
            Some(Value::String(url)) => match check_smtp_url(&Secret::new(url.trim())) {
                Ok(()) => Some(Secret::new(url.trim())),
                Err(e) => {
                    f.problem("smtp_url", format!("[redacted] is not valid: {e}"));
                    None
                }
            },
            Some(other) => {
                f.bad("smtp_url", other, "an smtp:// or smtps:// URL", true);
                None
            }
            None => {
                f.problem("smtp_url", "missing; this key is required");
                None
            }
        };
        let from = f
            .string("from", from)
            .and_then(|from| f.checked("from", from, check_email_address));
        let to = f.checked_list("to", to, check_email_address);
        let built = smtp_url
            .zip(from)
            .map(|(smtp_url, from)| EmailConfig { smtp_url, from, to });
        f.done(built)
    }
}

impl SmsConfig {
    /// From a config table's `account_sid`, `auth_token`, `from`, `messaging_service_sid` and `to`
    /// (a list), each `None` when absent. The API root is [`DEFAULT_TWILIO_API_URL`]: the caller
    /// replaces it for a table that names one.
    pub fn from_values(
        account_sid: Option<&Value>,
        auth_token: Option<&Value>,
        from: Option<&Value>,
        messaging_service_sid: Option<&Value>,
        to: Option<&Value>,
    ) -> Result<Self, Vec<FieldProblem>> {
        let mut f = Fields::default();
        let account_sid = f
            .string("account_sid", account_sid)
            .and_then(|sid| f.checked("account_sid", sid, check_account_sid));
        let auth_token = match auth_token {
            Some(Value::String(token)) if !token.trim().is_empty() => {
                Some(Secret::new(token.trim()))
            }
            Some(other) => {
                f.bad(
                    "auth_token",
                    other,
                    "a Twilio auth token (a non-empty string)",
                    true,
                );
                None
            }
            None => {
                f.problem(
                    "auth_token",
                    "missing; set it in [alerts.sms] or in the TWILIO_AUTH_TOKEN environment variable",
                );
                None
            }
        };
        let from = f.optional_string("from", from);
        let service = f.optional_string("messaging_service_sid", messaging_service_sid);
        let sender = match (from, service) {
            (Some(from), None) => f
                .checked("from", from, check_phone_number)
                .map(SmsSender::From),
            (None, Some(sid)) => f
                .checked("messaging_service_sid", sid, check_messaging_service_sid)
                .map(SmsSender::MessagingService),
            (Some(_), Some(_)) => {
                f.problem("from", "set either from or messaging_service_sid, not both");
                None
            }
            (None, None) => {
                f.problem(
                    "from",
                    "missing; set from (a phone number) or messaging_service_sid",
                );
                None
            }
        };
        let to = f.checked_list("to", to, check_phone_number);
        // A constant that parses; were it edited into one that does not, the config says so.
        let api_url = Url::parse(DEFAULT_TWILIO_API_URL)
            .map_err(|e| f.problem("api_url", format!("{DEFAULT_TWILIO_API_URL}: {e}")))
            .ok();
        let built = account_sid.zip(auth_token).zip(sender).zip(api_url).map(
            |(((account_sid, auth_token), sender), api_url)| SmsConfig {
                account_sid,
                auth_token,
                sender,
                to,
                api_url,
            },
        );
        f.done(built)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn problems_name_their_fields_in_order_and_never_show_a_secret() {
        let problems = EmailConfig::from_values(
            Some(&json!("http://user:hunter2@mail")),
            Some(&json!(5)),
            Some(&json!(["nobody", 7])),
        )
        .unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        // Every entry's type is judged before any entry's shape.
        assert_eq!(fields, ["smtp_url", "from", "to[1]", "to[0]"]);
        assert!(problems[0].1.starts_with("[redacted] is not valid: "));
        assert_eq!(problems[1].1, "5 is not valid: expected a non-empty string");
        assert_eq!(problems[2].1, "7 is not valid: expected a string");

        let problems = SmsConfig::from_values(None, Some(&json!("")), None, None, Some(&json!([])))
            .unwrap_err();
        assert_eq!(
            problems,
            [
                ("account_sid".into(), "missing; this key is required".into()),
                (
                    "auth_token".into(),
                    "[redacted] is not valid: expected a Twilio auth token (a non-empty string)"
                        .into()
                ),
                (
                    "from".into(),
                    "missing; set from (a phone number) or messaging_service_sid".into()
                ),
                (
                    "to".into(),
                    "[] is not valid: expected a non-empty list of strings".into()
                ),
            ]
        );
    }

    #[test]
    fn good_values_build_the_configs() {
        let email = EmailConfig::from_values(
            Some(&json!(" smtps://user:pw@mail.example.com ")),
            Some(&json!("alerts@example.com")),
            Some(&json!([" ops@example.com "])),
        )
        .unwrap();
        assert_eq!(email.smtp_url.expose(), "smtps://user:pw@mail.example.com");
        assert_eq!(email.to, ["ops@example.com"]);

        let sms = SmsConfig::from_values(
            Some(&json!(format!("AC{}", "0".repeat(32)))),
            Some(&json!("token")),
            Some(&json!("+15005550006")),
            None,
            Some(&json!(["+15005550006"])),
        )
        .unwrap();
        assert_eq!(sms.sender, SmsSender::From("+15005550006".into()));
        assert_eq!(sms.api_url.as_str(), "https://api.twilio.com/");
    }
}
