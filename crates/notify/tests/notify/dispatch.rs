use notify::{AlertKind, Error, Notifier, NotifyConfig, SmsSender, Stats};
use secret::Secret;
use tokio_util::sync::CancellationToken;

use crate::support::{
    self, FakeTwilio, Logs, MailServer, SMTP_PASSWORD, Smtp, alert, assert_no_secret,
};
use crate::{email_config, finish, from_number, quick, sms_config};

#[tokio::test]
async fn the_same_alert_is_held_back_within_alert_every_and_counted_in_the_next() {
    let mail = MailServer::start(Smtp::Accept);
    let mut twilio = FakeTwilio::start(&[support::CREATED]).await;
    let shutdown = CancellationToken::new();
    let config = quick(
        Some(email_config(mail.port, "", &["ops@example.com"])),
        Some(sms_config(twilio.url(), from_number(), &["+15555550100"])),
    );
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "a", 3, 0)); // sent
    notifier.notify(alert(AlertKind::Outage, "a", 3, 17)); // held
    notifier.notify(alert(AlertKind::Outage, "a", 3, 25)); // held
    notifier.notify(alert(AlertKind::CredentialsRejected, "a", 3, 26)); // another kind: sent
    notifier.notify(alert(AlertKind::Outage, "b", 3, 27)); // another app: sent
    notifier.notify(alert(AlertKind::Outage, "a", 3, 30)); // window over: sent, says 2 held back
    notifier.notify(alert(AlertKind::Outage, "a", 3, 45)); // held again
    finish(&shutdown, task).await;

    assert_eq!(
        notifier.stats(),
        Stats {
            email_sent: 4,
            sms_sent: 4,
            held_back: 3,
            ..Stats::default()
        }
    );
    let sms: Vec<String> = twilio
        .drain()
        .into_iter()
        .map(|r| r.field("Body").unwrap().to_owned())
        .collect();
    assert_eq!(sms.len(), 4);
    for body in &sms {
        assert!(
            body.contains("scaled 1 -> 3") && !body.contains('→'),
            "GSM-7 only: {body}"
        );
        assert!(body.chars().count() <= 160, "one segment: {body}");
    }
    let mentions: Vec<_> = sms.iter().filter(|b| b.contains("held back")).collect();
    assert_eq!(mentions.len(), 1, "{sms:#?}");
    assert!(
        mentions[0].contains("At 03:30 UTC")
            && mentions[0].contains("2 similar held back since 03:17 UTC"),
        "{}",
        mentions[0]
    );

    let mails = mail.mails();
    assert_eq!(mails.len(), 4);
    let mentions: Vec<_> = mails
        .iter()
        .filter(|m| m.body.contains("held back"))
        .collect();
    assert_eq!(mentions.len(), 1);
    assert!(
        mentions[0]
            .body
            .contains("2 similar alerts held back since 03:17 UTC."),
        "{}",
        mentions[0].body
    );
    assert!(
        mentions[0].body.contains("When: 2026-11-27 03:30:00 UTC"),
        "{}",
        mentions[0].body
    );
    let subjects: Vec<_> = mails
        .iter()
        .map(|m| m.header("subject").to_owned())
        .collect();
    assert_eq!(
        subjects.iter().filter(|s| s.contains(" b web:")).count(),
        1,
        "{subjects:?}"
    );
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let (logs, _guard) = Logs::capture();
    let shutdown = CancellationToken::new();
    let (notifier, task) = Notifier::spawn(NotifyConfig::default(), shutdown.clone()).unwrap();
    // On this current-thread runtime the dispatcher cannot run until the test yields, so the
    // queue fills up after exactly its capacity. Each alert is another app's: the same alert
    // again would be held back by the de-duplication before it reached the queue.
    for i in 0..1024 + 3 {
        notifier.notify(alert(AlertKind::Outage, &format!("app-{i}"), 3, 0));
    }
    assert_eq!(notifier.stats().dropped, 3);
    finish(&shutdown, task).await;
    notifier.notify(alert(AlertKind::Outage, "one-more-app", 3, 0));
    assert_eq!(
        notifier.stats(),
        Stats {
            dropped: 4,
            ..Stats::default()
        }
    );
    assert_eq!(logs.lines_with("alert queue full: alert dropped").len(), 3);
    assert_eq!(logs.lines_with("notifier stopped: alert dropped").len(), 1);
    // Each alert the dispatcher took from the queue is logged as going nowhere.
    assert_eq!(logs.lines_with("no email or SMS configured").len(), 1024);
}

#[tokio::test]
async fn spawn_refuses_a_bad_config_with_a_message_naming_the_value() {
    let twilio = url::Url::parse("http://127.0.0.1:9").unwrap();
    let cases = [
        quick(Some(email_config(25, "", &["ops at example.com"])), None),
        quick(
            None,
            Some(sms_config(twilio.clone(), from_number(), &["555-0100"])),
        ),
        quick(
            None,
            Some(sms_config(
                twilio.clone(),
                SmsSender::From("0006".into()),
                &[],
            )),
        ),
        quick(
            None,
            Some(sms_config(
                twilio.clone(),
                SmsSender::MessagingService("MG1".into()),
                &[],
            )),
        ),
        {
            let mut c = sms_config(twilio, from_number(), &[]);
            c.account_sid = "SK0123456789abcdef0123456789abcdef".into();
            quick(None, Some(c))
        },
    ];
    let named = [
        "`ops at example.com`",
        "`555-0100`",
        "`0006`",
        "`MG1`",
        "`SK0123456789abcdef0123456789abcdef`",
    ];
    for (config, value) in cases.into_iter().zip(named) {
        let err = Notifier::spawn(config, CancellationToken::new()).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
        assert!(err.to_string().contains(value), "{err}");
    }

    let mut bad_url = email_config(25, &format!("alerts:{SMTP_PASSWORD}@"), &[]);
    bad_url.smtp_url = Secret::new(format!("imap://alerts:{SMTP_PASSWORD}@mail.example.com"));
    let err = Notifier::spawn(quick(Some(bad_url), None), CancellationToken::new()).unwrap_err();
    assert!(err.to_string().contains("`imap`"), "{err}");
    assert_no_secret("the error", &format!("{err} {err:?}"));
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let config = quick(
        Some(email_config(
            25,
            &format!("alerts:{SMTP_PASSWORD}@"),
            &["ops@example.com"],
        )),
        Some(sms_config(
            url::Url::parse("http://127.0.0.1:9").unwrap(),
            from_number(),
            &["+15555550100"],
        )),
    );
    let shown = format!("{config:?} {config:#?}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert_no_secret("NotifyConfig's Debug", &shown);
    let mailer = notify::Mailer::new(config.email.as_ref().unwrap(), config.send_timeout).unwrap();
    assert_eq!(mailer.host(), "127.0.0.1");
    let twilio = notify::Twilio::new(config.sms.as_ref().unwrap(), config.send_timeout).unwrap();
    let shutdown = CancellationToken::new();
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    assert_no_secret(
        "Debug of the handles",
        &format!("{mailer:?} {twilio:?} {notifier:?}"),
    );
    finish(&shutdown, task).await;
}
