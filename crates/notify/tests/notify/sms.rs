use std::time::Duration;

use base64::Engine as _;
use notify::{AlertKind, Error, Notifier, SmsSender, Stats, Twilio};
use tokio_util::sync::CancellationToken;

use crate::support::{
    self, ACCOUNT_SID, FakeTwilio, Logs, MESSAGING_SID, Prism, TWILIO_TOKEN, alert,
    assert_no_secret,
};
use crate::{finish, from_number, quick, sms_config};

#[tokio::test]
async fn prism_serving_twilios_contract_accepts_our_sends_and_refuses_a_malformed_account_sid() {
    let prism = Prism::start().await;
    let timeout = Duration::from_secs(20);

    let by_number =
        Twilio::new(&sms_config(prism.url.clone(), from_number(), &[]), timeout).unwrap();
    let sid = by_number
        .send("+15555550100", "[autoscaled] my-app web: down")
        .await
        .unwrap();
    assert!(
        sid.starts_with("SM"),
        "Twilio's answer carries the message SID: {sid}"
    );
    let by_service = Twilio::new(
        &sms_config(
            prism.url.clone(),
            SmsSender::MessagingService(MESSAGING_SID.into()),
            &[],
        ),
        timeout,
    )
    .unwrap();
    by_service.send("+15555550100", "hello").await.unwrap();

    // The mock does check requests, so the 2xx above means something: without credentials, with
    // a JSON body, or without `To`, it refuses.
    let url = format!(
        "{}2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
        prism.url
    );
    let http = reqwest::Client::new();
    let form = [
        ("To", "+15555550100"),
        ("From", "+15005550006"),
        ("Body", "hi"),
    ];
    let no_auth = http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(no_auth.status(), 401);
    let json = http
        .post(&url)
        .basic_auth(ACCOUNT_SID, Some(TWILIO_TOKEN))
        .header("content-type", "application/json")
        .body(r#"{"To": "+15555550100", "From": "+15005550006", "Body": "hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let no_to = http
        .post(&url)
        .basic_auth(ACCOUNT_SID, Some(TWILIO_TOKEN))
        .form(&form[1..])
        .send()
        .await
        .unwrap();
    assert_eq!(no_to.status(), 422);

    // The same SID is refused by our own check before anything is sent; Twilio's contract
    // refuses it too, and the error says so.
    let mut malformed = sms_config(prism.url.clone(), from_number(), &[]);
    malformed.account_sid = "AC0123".into();
    assert!(notify::check_account_sid(&malformed.account_sid).is_err());
    let err = Twilio::new(&malformed, timeout)
        .unwrap()
        .send("+15555550100", "hello")
        .await
        .unwrap_err();
    match &err {
        Error::Twilio {
            status: 422,
            code: None,
            message,
            ..
        } => {
            assert!(
                message.contains("accountsid") && message.contains("pattern"),
                "{message}"
            );
        }
        other => panic!("expected the mock's 422, got {other:?}"),
    }
    assert_no_secret("the error", &format!("{err} {err:?}"));

    // The dispatcher's own request passes the contract too.
    let shutdown = CancellationToken::new();
    let config = quick(
        None,
        Some(sms_config(
            prism.url.clone(),
            from_number(),
            &["+15555550100", "+15555550101"],
        )),
    );
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(
        notifier.stats(),
        Stats {
            sms_sent: 2,
            ..Stats::default()
        }
    );
}

#[tokio::test]
async fn the_request_carries_exactly_one_of_from_and_messaging_service_sid() {
    let mut twilio = FakeTwilio::start(&[support::CREATED]).await;
    let timeout = Duration::from_secs(10);
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{TWILIO_TOKEN}"))
    );

    let by_number = Twilio::new(&sms_config(twilio.url(), from_number(), &[]), timeout).unwrap();
    assert_eq!(
        by_number.send("+15555550100", "down -> up").await.unwrap(),
        "SM0123456789abcdef0123456789abcdef"
    );
    let request = twilio.next().await;
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(
        request.authorization.as_deref(),
        Some(expected_auth.as_str())
    );
    assert_eq!(request.field("To"), Some("+15555550100"));
    assert_eq!(request.field("From"), Some("+15005550006"));
    assert_eq!(request.field("MessagingServiceSid"), None);
    assert_eq!(request.field("Body"), Some("down -> up"));

    let by_service = Twilio::new(
        &sms_config(
            twilio.url(),
            SmsSender::MessagingService(MESSAGING_SID.into()),
            &[],
        ),
        timeout,
    )
    .unwrap();
    by_service.send("+15555550100", "hello").await.unwrap();
    let request = twilio.next().await;
    assert_eq!(request.field("MessagingServiceSid"), Some(MESSAGING_SID));
    assert_eq!(request.field("From"), None);
    assert_eq!(
        request.form.len(),
        3,
        "To, the sender and Body, nothing else: {:?}",
        request.form
    );
}

#[tokio::test]
async fn twilio_error_bodies_are_parsed_into_the_error() {
    let twilio = FakeTwilio::start(&[
        (400, r#"{"code": 21211, "message": "The 'To' number +1555 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#),
        (401, r#"{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#),
        (429, r#"{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}"#),
        (502, "<html>Bad Gateway</html>"),
    ])
    .await;
    let client = Twilio::new(
        &sms_config(twilio.url(), from_number(), &[]),
        Duration::from_secs(10),
    )
    .unwrap();

    let err = client.send("+1555", "hi").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Twilio refused the message: HTTP 400, error 21211: The 'To' number +1555 is not a valid phone number. \
         (see https://www.twilio.com/docs/errors/21211)"
    );
    for (status, code, message) in [
        (401, 20003, "Authenticate"),
        (429, 20429, "Too Many Requests"),
    ] {
        let err = client.send("+15555550100", "hi").await.unwrap_err();
        assert_no_secret("the error", &format!("{err} {err:?}"));
        match err {
            Error::Twilio {
                status: s,
                code: Some(c),
                message: m,
                more_info: Some(more),
            } => {
                assert_eq!((s, c, m.as_str()), (status, code, message));
                assert_eq!(more, format!("https://www.twilio.com/docs/errors/{code}"));
            }
            other => panic!("expected Twilio's error {code}, got {other:?}"),
        }
    }
    let err = client.send("+15555550100", "hi").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Twilio refused the message: HTTP 502: <html>Bad Gateway</html>"
    );
}

#[tokio::test]
async fn too_many_requests_is_retried_and_an_invalid_number_is_not() {
    let (logs, _guard) = Logs::capture();
    let too_many = r#"{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}"#;
    let mut twilio = FakeTwilio::start(&[(429, too_many), (503, "{}"), support::CREATED]).await;
    let shutdown = CancellationToken::new();
    let config = quick(
        None,
        Some(sms_config(twilio.url(), from_number(), &["+15555550100"])),
    );
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(
        notifier.stats(),
        Stats {
            sms_sent: 1,
            ..Stats::default()
        }
    );
    assert_eq!(twilio.drain().len(), 3);

    let invalid = r#"{"code": 21211, "message": "Invalid 'To' Phone Number", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
    let mut twilio = FakeTwilio::start(&[(400, invalid)]).await;
    let shutdown = CancellationToken::new();
    let config = quick(
        None,
        Some(sms_config(twilio.url(), from_number(), &["+15555550100"])),
    );
    let (notifier, task) = Notifier::spawn(config, shutdown.clone()).unwrap();
    notifier.notify(alert(AlertKind::Outage, "my-app", 3, 12));
    finish(&shutdown, task).await;
    assert_eq!(
        notifier.stats(),
        Stats {
            sms_failed: 1,
            ..Stats::default()
        }
    );
    assert_eq!(twilio.drain().len(), 1);
    let given_up = logs.lines_with("giving up");
    assert_eq!(given_up.len(), 1, "{}", logs.text());
    assert!(
        given_up[0].contains("error 21211") && given_up[0].contains("attempts=1"),
        "{}",
        given_up[0]
    );
    assert_no_secret("the log", &logs.text());
}
