//! Alerts by email (SMTP, lettre) and SMS (Twilio), de-duplicated and retried, never blocking the caller.
