//! Shape checks for config values, so a bad one is refused at start with a message that names it,
//! rather than found at 3 a.m. when the first alert fails.

use lettre::message::Mailbox;
use secret::Secret;

use crate::Error;

/// Checks an email address: a mailbox like `autoscaled <alerts@example.com>` or a bare address.
///
/// ```
/// # use autoscaled_notify as notify;
/// assert!(notify::check_email_address("autoscaled <alerts@example.com>").is_ok());
/// assert!(notify::check_email_address("ops@example.com").is_ok());
/// assert!(notify::check_email_address("ops at example.com").is_err());
/// ```
pub fn check_email_address(s: &str) -> Result<(), Error> {
    parse_mailbox(s).map(drop)
}

pub(crate) fn parse_mailbox(s: &str) -> Result<Mailbox, Error> {
    s.parse::<Mailbox>().map_err(|_| Error::Invalid {
        what: "email address",
        value: s.to_owned(),
        expected: "a mailbox like `autoscaled <alerts@example.com>` or a bare address like `ops@example.com`",
    })
}

/// Checks a phone number: E.164, `+` then 8 to 15 digits, the first not 0.
///
/// ```
/// # use autoscaled_notify as notify;
/// assert!(notify::check_phone_number("+15555550100").is_ok());
/// assert!(notify::check_phone_number("555-0100").is_err());
/// ```
pub fn check_phone_number(s: &str) -> Result<(), Error> {
    let ok = s.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "phone number",
            value: s.to_owned(),
            expected: "E.164: `+` then 8 to 15 digits, no spaces, like `+15555550100`",
        })
    }
}

/// Checks a Twilio account SID: `AC` then 32 hexadecimal digits.
///
/// ```
/// # use autoscaled_notify as notify;
/// assert!(notify::check_account_sid("AC0123456789abcdef0123456789abcdef").is_ok());
/// assert!(notify::check_account_sid("AC123").is_err());
/// ```
pub fn check_account_sid(s: &str) -> Result<(), Error> {
    check_sid(
        s,
        "AC",
        "Twilio account SID",
        "`AC` then 32 hexadecimal digits",
    )
}

/// Checks a Twilio messaging service SID: `MG` then 32 hexadecimal digits.
///
/// ```
/// # use autoscaled_notify as notify;
/// assert!(notify::check_messaging_service_sid("MG0123456789abcdef0123456789abcdef").is_ok());
/// assert!(notify::check_messaging_service_sid("AC0123456789abcdef0123456789abcdef").is_err());
/// ```
pub fn check_messaging_service_sid(s: &str) -> Result<(), Error> {
    check_sid(
        s,
        "MG",
        "Twilio messaging service SID",
        "`MG` then 32 hexadecimal digits",
    )
}

fn check_sid(
    s: &str,
    prefix: &str,
    what: &'static str,
    expected: &'static str,
) -> Result<(), Error> {
    let ok = s
        .strip_prefix(prefix)
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what,
            value: s.to_owned(),
            expected,
        })
    }
}

/// Checks an SMTP URL: `smtp://host[:port]`, `smtp://host?tls=required` (STARTTLS, refusing to go on
/// without it), `smtp://host?tls=opportunistic` or `smtps://host` (TLS from the start), with
/// optional `user:password@`. The error never shows the URL, since it may carry the password.
///
/// ```
/// # use autoscaled_notify as notify;
/// use secret::Secret;
///
/// assert!(notify::check_smtp_url(&Secret::new("smtps://me:hunter2@smtp.example.com")).is_ok());
/// let err = notify::check_smtp_url(&Secret::new("https://me:hunter2@smtp.example.com")).unwrap_err();
/// assert!(!err.to_string().contains("hunter2"));
/// ```
pub fn check_smtp_url(url: &Secret) -> Result<(), Error> {
    // The url crate's errors never quote their input, so they are safe to pass on.
    let parsed = url::Url::parse(url.expose()).map_err(|e| Error::SmtpUrl(e.to_string()))?;
    if !matches!(parsed.scheme(), "smtp" | "smtps") {
        return Err(Error::SmtpUrl(format!(
            "the scheme is `{}`; expected `smtp://` or `smtps://`",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::SmtpUrl("it names no host".to_owned()));
    }
    for (key, value) in parsed.query_pairs() {
        let known = key == "tls"
            && matches!(&*value, "required" | "opportunistic")
            && parsed.scheme() == "smtp";
        if !known {
            return Err(Error::SmtpUrl(format!(
                "unknown parameter `{key}`; the only one is `tls=required` or `tls=opportunistic`, with `smtp://`"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        for good in [
            "ops@example.com",
            "autoscaled <alerts@example.com>",
            "\"Ops Team\" <ops@example.co.uk>",
        ] {
            assert!(check_email_address(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "ops at example.com",
            "a <b@c.d",
        ] {
            let err = check_email_address(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
            assert!(
                err.contains("alerts@example.com"),
                "says what is expected: {err}"
            );
        }
    }

    #[test]
    fn phone_numbers() {
        for good in [
            "+15555550100",
            "+4930123456",
            "+12345678",
            "+123456789012345",
        ] {
            assert!(check_phone_number(good).is_ok(), "{good}");
        }
        for bad in [
            "15555550100",
            "+1555",
            "+1234567890123456",
            "+1 555 555 0100",
            "+0555555010",
            "+",
            "+1555555010a",
        ] {
            let err = check_phone_number(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "phone number `{bad}` cannot be right: expected E.164: `+` then 8 to 15 digits, no spaces, like `+15555550100`"
                )
            );
        }
    }

    #[test]
    fn sids() {
        let hex = "0123456789abcdefABCDEF0123456789";
        assert!(check_account_sid(&format!("AC{hex}")).is_ok());
        assert!(check_messaging_service_sid(&format!("MG{hex}")).is_ok());
        for bad in [
            format!("MG{hex}"),
            format!("AC{hex}0"),
            "AC0123456789abcdef0123456789abcdeg".to_owned(),
            String::new(),
        ] {
            let err = check_account_sid(&bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("Twilio account SID `{bad}`")),
                "{err}"
            );
        }
        assert!(check_messaging_service_sid(&format!("AC{hex}")).is_err());
    }

    #[test]
    fn smtp_urls() {
        for good in [
            "smtp://localhost:2525",
            "smtp://user:pa%40ss@smtp.example.com?tls=required",
            "smtp://smtp.example.com?tls=opportunistic",
            "smtps://user:pass@smtp.example.com",
        ] {
            assert!(check_smtp_url(&Secret::new(good)).is_ok(), "{good}");
        }
        for bad in [
            "http://user:hunter2@smtp.example.com",
            "smtp://user:hunter2@",
            "smtps://user:hunter2@smtp.example.com?tls=required",
            "smtp://user:hunter2@smtp.example.com?tls=none",
            "smtp://user:hunter2@smtp.example.com?foo=bar",
            "user:hunter2@smtp.example.com",
        ] {
            let err = check_smtp_url(&Secret::new(bad)).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("SMTP URL"), "{shown}");
        }
    }
}
