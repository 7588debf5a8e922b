use std::time::{Duration, Instant};

use notify::{AlertKind, Notifier, Stats};
use tokio_util::sync::CancellationToken;

use crate::support::{
    self, Logs, MailServer, SMTP_PASSWORD, Smtp, SmtpOptions, alert, assert_no_secret,
};
use crate::{email_config, finish, from_number, quick, sms_config};

#[tokio::test]
async fn email_arrives_with_subject_from_to_date_message_id_and_body() {
    let server = MailServer::start(Smtp::Accept);
    let shutdown = CancellationToken::new();
    let config = quick(
        Some(email_config(
            server.port,
            "",
            &["ops@example.com", "Oncall <oncall@example.com>"],
        )),
        None,
    );
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    let sent = alert(AlertKind::Outage, "my-app", 3, 12);
    notifier.notify(sent.clone());
    finish(&shutdown, task).await;

    assert_eq!(
        notifier.stats(),
        Stats {
            email_sent: 2,
            ..Stats::default()
        }
    );
    let mut mails = server.mails();
    mails.sort_by(|a, b| a.envelope_to.cmp(&b.envelope_to));
    assert_eq!(mails.len(), 2, "one message per recipient");
    assert_eq!(mails[0].envelope_to, ["oncall@example.com"]);
    assert_eq!(mails[1].envelope_to, ["ops@example.com"]);
    assert_eq!(mails[0].header("to"), "Oncall <oncall@example.com>");
    assert_eq!(mails[1].header("to"), "ops@example.com");
    let mail = &mails[1];
    assert_eq!(
        mail.header("subject"),
        "[autoscaled] my-app web: down (HTTP 503), scaled 1 → 3"
    );
    assert_eq!(mail.header("from"), "autoscaled <alerts@example.com>");
    chrono::DateTime::parse_from_rfc2822(mail.header("date")).expect("an RFC 2822 Date");
    let id = mail.header("message-id");
    assert!(
        id.starts_with('<') && id.ends_with('>') && id.contains('@'),
        "{id}"
    );
    assert_ne!(
        mails[0].header("message-id"),
        id,
        "each message has its own id"
    );
    assert!(
        mail.header("content-type").starts_with("text/plain"),
        "{:?}",
        mail.headers
    );
    // The transport ends the body with a line break of its own before the final dot.
    assert_eq!(mail.body.trim_end(), sent.email_body(None).trim_end());
    assert!(
        mail.body.contains("What autoscaled did: scaled 1 → 3"),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains(
            "When: 2026-11-27 03:12:00 UTC (2026-11-26 22:12:00 EST in America/New_York)"
        )
    );
}

#[tokio::test]
async fn email_with_auth_plain_and_a_wrong_password_fails_once_without_showing_it() {
    let (logs, _guard) = Logs::capture();
    let server = MailServer::start(SmtpOptions::default().with_auth("alerts", SMTP_PASSWORD));
    let shutdown = CancellationToken::new();
    let good = email_config(
        server.port,
        &format!("alerts:{SMTP_PASSWORD}@"),
        &["ops@example.com"],
    );
    let (notifier, task) = Notifier::spawn(quick(Some(good), None), shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(notifier.stats().email_sent, 1);
    assert_eq!(
        server.seen.lock().unwrap().auth,
        [("alerts".to_owned(), SMTP_PASSWORD.to_owned())]
    );
    assert_eq!(server.mails().len(), 1);

    let shutdown = CancellationToken::new();
    let wrong = email_config(
        server.port,
        "alerts:not-the-password@",
        &["ops@example.com"],
    );
    let (notifier, task) = Notifier::spawn(quick(Some(wrong), None), shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(
        notifier.stats(),
        Stats {
            email_failed: 1,
            ..Stats::default()
        }
    );
    assert_eq!(
        server.seen.lock().unwrap().auth.len(),
        2,
        "a rejected password is not tried again"
    );
    assert_eq!(server.mails().len(), 1);
    let given_up = logs.lines_with("giving up");
    assert_eq!(given_up.len(), 1, "{}", logs.text());
    assert!(
        given_up[0].contains("535"),
        "the log says why: {}",
        given_up[0]
    );
    assert_no_secret("the log", &logs.text());
    assert!(!logs.text().contains("not-the-password"), "{}", logs.text());
}

#[tokio::test]
async fn a_server_that_is_down_is_retried_then_given_up_while_sms_goes_out() {
    let (logs, _guard) = Logs::capture();
    let mut twilio = support::FakeTwilio::start(&[support::CREATED]).await;
    let shutdown = CancellationToken::new();
    let config = quick(
        Some(email_config(
            support::closed_port(),
            &format!("alerts:{SMTP_PASSWORD}@"),
            &["ops@example.com"],
        )),
        Some(sms_config(twilio.url(), from_number(), &["+15555550100"])),
    );
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;

    assert_eq!(
        notifier.stats(),
        Stats {
            email_failed: 1,
            sms_sent: 1,
            ..Stats::default()
        }
    );
    assert_eq!(twilio.drain().len(), 1);
    let text = logs.text();
    let retries: Vec<_> = logs
        .lines_with("retrying")
        .into_iter()
        .filter(|l| l.contains("channel=\"email\""))
        .collect();
    assert_eq!(retries.len(), 2, "3 tries, so 2 retries:\n{text}");
    let given_up = logs.lines_with("giving up");
    assert_eq!(given_up.len(), 1, "{text}");
    assert!(
        given_up[0].contains("attempts=3") && given_up[0].contains("ops@example.com"),
        "{}",
        given_up[0]
    );
    assert_no_secret("the log", &text);
}

#[tokio::test]
async fn a_transient_refusal_is_retried_and_a_permanent_one_is_not() {
    let (logs, _guard) = Logs::capture();
    let busy = MailServer::start(Smtp::RefuseData);
    let shutdown = CancellationToken::new();
    let (notifier, task) = Notifier::spawn(
        quick(
            Some(email_config(busy.port, "", &["ops@example.com"])),
            None,
        ),
        shutdown.clone(),
    )
    .unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(
        notifier.stats(),
        Stats {
            email_failed: 1,
            ..Stats::default()
        }
    );
    assert_eq!(busy.seen.lock().unwrap().data, 3, "451 is worth 3 tries");
    assert!(
        logs.lines_with("giving up")[0].contains("451"),
        "{}",
        logs.text()
    );

    let no_such_user = MailServer::start(Smtp::RefuseRcpt);
    let shutdown = CancellationToken::new();
    let (notifier, task) = Notifier::spawn(
        quick(
            Some(email_config(no_such_user.port, "", &["nobody@example.com"])),
            None,
        ),
        shutdown.clone(),
    )
    .unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(
        notifier.stats(),
        Stats {
            email_failed: 1,
            ..Stats::default()
        }
    );
    assert_eq!(
        no_such_user.seen.lock().unwrap().rcpt,
        1,
        "550 will not change: one try"
    );
    assert!(no_such_user.mails().is_empty());
}

#[tokio::test]
async fn a_stalled_smtp_server_delays_neither_notify_nor_sms_and_shutdown_is_bounded() {
    let (logs, _guard) = Logs::capture();
    let stalled = support::stalled_server().await;
    let mut twilio = support::FakeTwilio::start(&[support::CREATED]).await;
    let shutdown = CancellationToken::new();
    let mut config = quick(
        Some(email_config(stalled, "", &["ops@example.com"])),
        Some(sms_config(twilio.url(), from_number(), &["+15555550100"])),
    );
    config.send_timeout = Duration::from_secs(600);
    config.shutdown_grace = Duration::from_millis(200);
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();

    let started = Instant::now();
    for minute in 0..50 {
        notifier.notify(alert(
            AlertKind::Outage,
            &format!("app-{minute}"),
            3,
            minute,
        ));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "notify took {:?}",
        started.elapsed()
    );

    for _ in 0..50 {
        twilio.next().await;
    }
    // A request reaches the server just before its answer reaches the sender: wait for the count.
    support::wait_for("50 SMS counted as sent", || notifier.stats().sms_sent == 50).await;
    let stats = notifier.stats();
    assert_eq!(
        (stats.sms_sent, stats.email_sent, stats.email_failed),
        (50, 0, 0),
        "{stats:?}"
    );

    let stopping = Instant::now();
    finish(&shutdown, task).await;
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        stopping.elapsed()
    );
    let abandoned = logs.lines_with("abandoned");
    assert_eq!(abandoned.len(), 1, "{}", logs.text());
    assert!(abandoned[0].contains("abandoned=50"), "{}", abandoned[0]);
}
