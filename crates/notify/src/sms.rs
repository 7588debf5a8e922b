use std::time::Duration;

use secret::Secret;
use url::Url;

use crate::Error;
use crate::check::{check_account_sid, check_messaging_service_sid, check_phone_number};

/// Where and how alerts go by SMS, through Twilio.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// The Twilio account SID, `AC` then 32 hex digits.
    pub account_sid: String,
    /// The account's auth token.
    pub auth_token: Secret,
    /// Who the messages come from.
    pub sender: SmsSender,
    /// The recipients, E.164 (`+15555550100`); each gets their own message.
    pub to: Vec<String>,
    /// Twilio's API root, `https://api.twilio.com` unless testing.
    pub api_url: Url,
}

/// Who an SMS comes from. Twilio takes exactly one of a `From` number or a messaging service, a
/// rule its OpenAPI file cannot express; an enum makes the other combinations unrepresentable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// A Twilio phone number, E.164, sent as `From`.
    From(String),
    /// A messaging service SID (`MG…`), sent as `MessagingServiceSid`; Twilio picks the number.
    MessagingService(String),
}

impl SmsSender {
    /// The sender from the config's two optional keys, `from` and `messaging_service_sid`:
    /// exactly one must be set, and it must have the right shape.
    pub fn from_config(
        from: Option<&str>,
        messaging_service_sid: Option<&str>,
    ) -> Result<Self, Error> {
        match (from, messaging_service_sid) {
            (Some(number), None) => {
                check_phone_number(number)?;
                Ok(Self::From(number.to_owned()))
            }
            (None, Some(sid)) => {
                check_messaging_service_sid(sid)?;
                Ok(Self::MessagingService(sid.to_owned()))
            }
            (Some(number), Some(sid)) => Err(Error::Invalid {
                what: "SMS sender",
                value: format!("from = {number}, messaging_service_sid = {sid}"),
                expected: "exactly one of `from` and `messaging_service_sid`, not both",
            }),
            (None, None) => Err(Error::Invalid {
                what: "SMS sender",
                value: String::new(),
                expected: "one of `from` (a phone number) or `messaging_service_sid` (`MG…`)",
            }),
        }
    }

    fn form_field(&self) -> (&'static str, &str) {
        match self {
            Self::From(number) => ("From", number),
            Self::MessagingService(sid) => ("MessagingServiceSid", sid),
        }
    }

    fn check(&self) -> Result<(), Error> {
        match self {
            Self::From(number) => check_phone_number(number),
            Self::MessagingService(sid) => check_messaging_service_sid(sid),
        }
    }
}

/// Twilio's error object, as its API answers a refused request.
#[derive(serde::Deserialize)]
struct TwilioError {
    code: Option<u32>,
    message: String,
    more_info: Option<String>,
}

#[derive(serde::Deserialize)]
struct Created {
    sid: Option<String>,
}

/// The longest part of a non-Twilio error body kept in an error message.
const BODY_EXCERPT: usize = 600;

/// Sends SMS through Twilio's Messages API.
///
/// [`crate::Notifier`] uses it for alerts; it is public for a caller that wants to send a test
/// message and see the error itself. It sends what it is given: [`Twilio::new`] does not check the
/// SIDs' shape, so that a contract test can watch Twilio (or its mock) refuse a malformed one;
/// [`crate::Notifier::spawn`] and the `check_*` functions refuse them first.
#[derive(Debug)]
pub struct Twilio {
    client: reqwest::Client,
    messages_url: Url,
    account_sid: String,
    auth_token: Secret,
    sender: SmsSender,
}

impl Twilio {
    /// Sets up the HTTP client; `timeout` bounds each request as a whole.
    pub fn new(config: &SmsConfig, timeout: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(Error::Http)?;
        let mut messages_url = config.api_url.clone();
        messages_url
            .path_segments_mut()
            .map_err(|()| Error::Invalid {
                what: "Twilio API URL",
                value: config.api_url.to_string(),
                expected: "an http(s) URL like `https://api.twilio.com`",
            })?
            .pop_if_empty()
            .extend([
                "2010-04-01",
                "Accounts",
                &config.account_sid,
                "Messages.json",
            ]);
        Ok(Self {
            client,
            messages_url,
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
            sender: config.sender.clone(),
        })
    }

    /// Sends `body` to `to` and returns the SID Twilio gave the message (empty if its answer
    /// had none).
    pub async fn send(&self, to: &str, body: &str) -> Result<String, Error> {
        let sender = self.sender.form_field();
        let response = self
            .client
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&[("To", to), sender, ("Body", body)])
            .send()
            .await
            .map_err(Error::Http)?;
        let status = response.status();
        let text = response.text().await.map_err(Error::Http)?;
        if status.is_success() {
            let created: Option<Created> = serde_json::from_str(&text).ok();
            return Ok(created.and_then(|c| c.sid).unwrap_or_default());
        }
        Err(match serde_json::from_str::<TwilioError>(&text) {
            Ok(e) => Error::Twilio {
                status: status.as_u16(),
                code: e.code,
                message: e.message,
                more_info: e.more_info,
            },
            Err(_) => Error::Twilio {
                status: status.as_u16(),
                code: None,
                message: text.chars().take(BODY_EXCERPT).collect(),
                more_info: None,
            },
        })
    }
}

impl SmsConfig {
    /// Checks every value's shape: the account SID, the sender, each recipient, the API URL.
    pub(crate) fn check(&self) -> Result<(), Error> {
        check_account_sid(&self.account_sid)?;
        self.sender.check()?;
        for to in &self.to {
            check_phone_number(to)?;
        }
        if !matches!(self.api_url.scheme(), "http" | "https") {
            return Err(Error::Invalid {
                what: "Twilio API URL",
                value: self.api_url.to_string(),
                expected: "an http(s) URL like `https://api.twilio.com`",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MG: &str = "MG0123456789abcdef0123456789abcdef";

    #[test]
    fn sender_is_exactly_one_of_from_and_messaging_service() {
        assert_eq!(
            SmsSender::from_config(Some("+15005550006"), None).unwrap(),
            SmsSender::From("+15005550006".into())
        );
        assert_eq!(
            SmsSender::from_config(None, Some(MG)).unwrap(),
            SmsSender::MessagingService(MG.into())
        );
        let both = SmsSender::from_config(Some("+15005550006"), Some(MG))
            .unwrap_err()
            .to_string();
        assert!(both.contains("not both"), "{both}");
        let neither = SmsSender::from_config(None, None).unwrap_err().to_string();
        assert!(neither.contains("one of `from`"), "{neither}");
        assert!(SmsSender::from_config(Some("5550006"), None).is_err());
        assert!(SmsSender::from_config(None, Some("MG12")).is_err());
    }

    #[test]
    fn messages_url_keeps_a_base_path() {
        let config = SmsConfig {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: Secret::new("t"),
            sender: SmsSender::From("+15005550006".into()),
            to: vec![],
            api_url: Url::parse("http://127.0.0.1:9/twilio/").unwrap(),
        };
        let t = Twilio::new(&config, Duration::from_secs(1)).unwrap();
        assert_eq!(
            t.messages_url.as_str(),
            "http://127.0.0.1:9/twilio/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
        );
    }
}
