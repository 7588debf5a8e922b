use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secret::Secret;

use crate::Error;
use crate::check::{check_smtp_url, parse_mailbox};

/// Where and how alerts go by email.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// The SMTP server, with credentials: `smtp://user:password@host:port`,
    /// `smtp://…?tls=required` (STARTTLS) or `smtps://…` (TLS from the start). See
    /// [`crate::check_smtp_url`].
    pub smtp_url: Secret,
    /// The sender: `autoscaled <alerts@example.com>` or a bare address.
    pub from: String,
    /// The recipients; each gets their own message.
    pub to: Vec<String>,
}

/// Sends plain-text emails over SMTP.
///
/// [`crate::Notifier`] uses it for alerts; it is public for a caller that wants to send a test
/// message (say, from a `check --online` command) and see the error itself.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server's host, for log lines: the URL itself may carry a password.
    host: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks `config` (URL, sender and recipients) and sets up the transport. Nothing is
    /// connected until the first send. `timeout` bounds each network step of a send.
    pub fn new(config: &EmailConfig, timeout: Duration) -> Result<Self, Error> {
        check_smtp_url(&config.smtp_url)?;
        let from = parse_mailbox(&config.from)?;
        for to in &config.to {
            parse_mailbox(to)?;
        }
        let host = url::Url::parse(config.smtp_url.expose())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(config.smtp_url.expose())
            .map_err(|e| Error::SmtpUrl(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            from,
            host,
        })
    }

    /// The SMTP server's host name, safe to show.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sends one plain-text message to `to`, with a generated Message-ID and the current Date.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), Error> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(parse_mailbox(to)?)
            .subject(subject)
            .message_id(None)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(Error::Smtp)
    }
}
