//! An SMTP server on loopback that keeps what it receives.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};

use mail_parser::{HeaderValue, MessageParser};
use mailin::{AuthMechanism, Handler, Response, SessionBuilder};

/// How the SMTP server treats what it is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Smtp {
    /// 250 to everything: every mail is kept.
    #[default]
    Accept,
    /// 550 to every RCPT: permanent.
    RefuseRcpt,
    /// 451 to every DATA: transient.
    RefuseData,
}

/// What a [`MailServer`] is to be: how it answers, and whether it requires AUTH PLAIN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtpOptions {
    /// How it answers RCPT and DATA.
    pub mode: Smtp,
    /// `Some((user, password))`: AUTH PLAIN is offered (without TLS) and only these credentials
    /// pass. `None`: no AUTH is offered.
    pub auth: Option<(String, String)>,
}

impl SmtpOptions {
    /// Offers AUTH PLAIN and accepts only `user` with `password`.
    pub fn with_auth(mut self, user: &str, password: &str) -> SmtpOptions {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }
}

impl From<Smtp> for SmtpOptions {
    /// That mode, no AUTH.
    fn from(mode: Smtp) -> SmtpOptions {
        SmtpOptions { mode, auth: None }
    }
}

/// Everything a [`MailServer`] saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The mails accepted, oldest first.
    pub mails: Vec<Mail>,
    /// How many RCPT commands came.
    pub rcpt: usize,
    /// How many DATA commands came.
    pub data: usize,
    /// (authentication id, password) of every AUTH PLAIN, passed or not.
    pub auth: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct MailHandler {
    options: SmtpOptions,
    seen: Arc<Mutex<Seen>>,
    envelope_to: Vec<String>,
    buffer: Vec<u8>,
}

impl MailHandler {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.seen)
    }
}

fn lock(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock()
        .expect("a thread of the SMTP server panicked while holding what it saw")
}

impl Handler for MailHandler {
    fn rcpt(&mut self, _to: &str) -> Response {
        self.seen().rcpt += 1;
        match self.options.mode {
            Smtp::RefuseRcpt => mailin::response::NO_MAILBOX,
            _ => mailin::response::OK,
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.seen().data += 1;
        self.envelope_to = to.to_vec();
        self.buffer.clear();
        match self.options.mode {
            Smtp::RefuseData => mailin::response::INTERNAL_ERROR,
            _ => mailin::response::OK,
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.buffer.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mail = Mail::parse(&self.buffer, std::mem::take(&mut self.envelope_to));
        self.seen().mails.push(mail);
        mailin::response::OK
    }

    fn auth_plain(&mut self, _authz: &str, authn: &str, password: &str) -> Response {
        self.seen()
            .auth
            .push((authn.to_owned(), password.to_owned()));
        match &self.options.auth {
            Some((user, pass)) if user == authn && pass == password => mailin::response::AUTH_OK,
            _ => mailin::response::INVALID_CREDENTIALS,
        }
    }
}

/// An SMTP server on 127.0.0.1, on plain TCP, that keeps what it receives.
///
/// It is mailin's SMTP engine (the one inside mailin-embedded) served a thread per connection:
/// mailin-embedded offers AUTH only after STARTTLS, and a test certificate would not pass the
/// client's certificate verification, which stays on. Its threads end with the test process.
#[derive(Debug)]
pub struct MailServer {
    /// The port it listens on.
    pub port: u16,
    /// Everything it saw so far.
    pub seen: Arc<Mutex<Seen>>,
}

impl MailServer {
    /// Starts a server answering as `options` say: `MailServer::start(Smtp::Accept)`, or
    /// `MailServer::start(SmtpOptions::default().with_auth("user", "password"))`.
    pub fn start(options: impl Into<SmtpOptions>) -> MailServer {
        let options = options.into();
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind the SMTP server");
        let port = listener
            .local_addr()
            .expect("the SMTP server's listener has an address")
            .port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut builder = SessionBuilder::new("mail.test");
        if options.auth.is_some() {
            builder
                .enable_auth(AuthMechanism::Plain)
                .insecure_enable_plaintext_auth();
        }
        let handler = MailHandler {
            options,
            seen: Arc::clone(&seen),
            envelope_to: vec![],
            buffer: vec![],
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let session = builder.build(IpAddr::from([127, 0, 0, 1]), handler.clone());
                std::thread::spawn(move || serve(session, stream));
            }
        });
        MailServer { port, seen }
    }

    /// The mails accepted so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        lock(&self.seen).mails.clone()
    }

    /// (authentication id, password) of every AUTH PLAIN so far.
    pub fn logins(&self) -> Vec<(String, String)> {
        lock(&self.seen).auth.clone()
    }
}

/// Runs one SMTP session until the client or the session closes it.
fn serve(mut session: mailin::Session<MailHandler>, stream: std::net::TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    if session.greeting().write_to(&mut writer).is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = session.process(&line);
        if response.action != mailin::Action::NoReply
            && (response.write_to(&mut writer).is_err() || writer.flush().is_err())
        {
            return;
        }
        if response.action == mailin::Action::Close {
            return;
        }
    }
}

/// A received email: headers unfolded and decoded, body decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipients of the envelope (RCPT TO).
    pub envelope_to: Vec<String>,
    /// (lower-case name, value) of every header in order, RFC 2047 words decoded.
    pub headers: Vec<(String, String)>,
    /// The Subject header, decoded; empty if there is none.
    pub subject: String,
    /// The body, its Content-Transfer-Encoding (base64, quoted-printable) undone, lines ending in
    /// `\n`.
    pub body: String,
    /// The whole message as sent.
    pub raw: String,
}

impl Mail {
    fn parse(raw: &[u8], envelope_to: Vec<String>) -> Mail {
        // The MIME headers parsed (the body's decoding needs them), every other header read as
        // unstructured text: unfolded, RFC 2047 words decoded, as a test compares them.
        let message = MessageParser::new()
            .with_mime_headers()
            .default_header_text()
            .parse(raw)
            .expect("a mail received is a message");
        let raw = String::from_utf8(raw.to_vec()).expect("a mail received is UTF-8");
        let headers: Vec<(String, String)> = message
            .headers()
            .iter()
            .map(|header| {
                let value = match header.value() {
                    HeaderValue::Text(text) => text.to_string(),
                    // A structured (MIME) header: its text as sent, unfolded.
                    _ => raw[header.offset_start() as usize..header.offset_end() as usize]
                        .replace("\r\n", "")
                        .trim()
                        .to_owned(),
                };
                (header.name().to_ascii_lowercase(), value)
            })
            .collect();
        let body = message
            .body_text(0)
            .expect("a mail received has a text body");
        let subject = message.subject().unwrap_or_default().to_owned();
        Mail {
            envelope_to,
            headers,
            subject,
            body: body.replace("\r\n", "\n"),
            raw,
        }
    }

    /// The value of header `name` (lower case), decoded; fails the test if there is none.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}
