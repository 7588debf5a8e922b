//! Real-looking Heroku drain lines: router info and error lines, and what is skipped.

use std::time::Duration;

use autoscaled_router_logs::{
    At, Batch, ErrorCode, RouterLine, app_line, frame, parse_body, router_line,
};

use super::support::{at, failed, served};

/// Frames `messages` and parses the body, which must frame.
fn parse_messages(messages: &[&str]) -> Batch<'static> {
    let body: &'static [u8] = Box::leak(frame(messages).into_boxed_slice());
    parse_body(body).unwrap_or_else(|e| panic!("{e}"))
}

fn only_line(message: &str) -> RouterLine<'static> {
    let batch = parse_messages(&[message]);
    assert_eq!(
        (batch.other, batch.bad, batch.lines.len()),
        (0, 0, 1),
        "{message}"
    );
    batch.lines[0].line
}

#[test]
fn an_info_line() {
    let batch = parse_messages(&[
        "<158>1 2012-11-30T06:45:29.761536+00:00 host heroku router - at=info method=GET path=\"/\" \
         host=myapp.herokuapp.com request_id=8601b555-6a83-4c12-8fe2-c4d6e1a3c9e2 fwd=\"204.204.204.204\" \
         dyno=web.1 connect=1ms service=18ms status=200 bytes=13 protocol=https\n",
    ]);
    assert_eq!(batch.lines.len(), 1);
    let entry = batch.lines[0];
    assert_eq!(
        entry.timestamp,
        at("2012-11-30T06:45:29.761536Z"),
        "fraction kept"
    );
    assert_eq!(
        entry.line,
        RouterLine {
            at: At::Info,
            code: None,
            method: Some("GET"),
            path: Some("/"),
            host: Some("myapp.herokuapp.com"),
            dyno: Some("web.1"),
            connect: Some(Duration::from_millis(1)),
            service: Some(Duration::from_millis(18)),
            status: Some(200),
            bytes: Some(13),
        }
    );
}

#[test]
fn an_h12_error_line() {
    let line = only_line(
        "<158>1 2024-03-01T12:00:30.000123-05:00 host heroku router - at=error code=H12 \
         desc=\"Request timeout\" method=POST path=\"/reports\" host=myapp.herokuapp.com \
         request_id=0f2bd9a0-1b51-4b6f-9e52-0c8e4f3b6a11 fwd=\"10.1.2.3\" dyno=web.2 connect=0ms \
         service=30000ms status=503 bytes=0 protocol=https",
    );
    assert_eq!(line.at, At::Error);
    assert_eq!(line.code, Some(ErrorCode::H12));
    assert_eq!(line.method, Some("POST"));
    assert_eq!(line.service, Some(Duration::from_secs(30)));
    assert_eq!(line.connect, Some(Duration::ZERO));
    assert_eq!(line.status, Some(503));
}

#[test]
fn an_h80_line_with_empty_values() {
    let line = only_line(
        "<158>1 2024-03-01T12:00:00+00:00 host heroku router - at=info code=H80 desc=\"Maintenance mode\" \
         method=GET path=\"/\" host=myapp.herokuapp.com request_id=1 fwd=\"1.2.3.4\" dyno= connect= \
         service= status=503 bytes= protocol=https",
    );
    assert_eq!(line.code, Some(ErrorCode::H80));
    assert_eq!(
        (line.dyno, line.connect, line.service, line.bytes),
        (None, None, None, None)
    );
    assert_eq!(line.status, Some(503));
}

#[test]
fn error_lines_without_dyno_or_service() {
    let line = only_line(
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=error code=H14 desc=\"No web dynos running\" \
         method=GET path=\"/favicon.ico\" host=myapp.herokuapp.com fwd=\"1.2.3.4\" status=503 bytes=0",
    );
    assert_eq!(line.code, Some(ErrorCode::H14));
    assert_eq!((line.dyno, line.service), (None, None));
}

#[test]
fn quoted_values_hold_spaces() {
    let line = only_line(
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info method=GET \
         path=\"/search?q=two words\" host=myapp.herokuapp.com fwd=\"1.2.3.4, 5.6.7.8\" dyno=web.1 \
         connect=0ms service=5ms status=200 bytes=1",
    );
    assert_eq!(line.path, Some("/search?q=two words"));
    assert_eq!(line.service, Some(Duration::from_millis(5)));
}

#[test]
fn other_lines_are_counted_not_parsed() {
    let batch = parse_messages(&[
        "<40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up",
        "<45>1 2012-11-30T06:45:29+00:00 host heroku web.1 - State changed from starting to up",
        "<190>1 2012-11-30T06:45:29+00:00 host app router - at=info method=GET service=1ms",
        "<158>1 2012-11-30T06:45:29+00:00 host heroku router - at=info method=GET service=1ms",
    ]);
    assert_eq!((batch.lines.len(), batch.other, batch.bad), (1, 3, 0));
}

#[test]
fn bad_lines_inside_a_good_body_are_counted_and_skipped() {
    let good = "<158>1 2024-03-01T12:00:00Z host heroku router - at=info service=7ms status=200";
    let batch = parse_messages(&[
        "hello",
        "<158>1 - host heroku router - at=info service=7ms",
        "<158>1 2024-03-01T12:00:00Z host heroku router - method=GET service=7ms",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=warn service=7ms",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info service=7",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info service=+7ms",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info status=two",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info status=70000",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=error code=timeout",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info path=\"/unclosed",
        "<158>1 2024-03-01T12:00:00Z host heroku router - at=info path=\"/a\"b",
        good,
    ]);
    assert_eq!((batch.lines.len(), batch.other, batch.bad), (1, 0, 11));
    assert_eq!(batch.lines[0].line.service, Some(Duration::from_millis(7)));

    let mut not_utf8 = good.as_bytes().to_vec();
    not_utf8.push(0xff);
    let body = frame(&[not_utf8]);
    assert_eq!(
        parse_body(&body).map(|b| (b.lines.len(), b.bad)),
        Ok((0, 1))
    );
}

#[test]
fn unknown_fields_and_bare_words_are_ignored() {
    let line = only_line(
        "<158>1 2024-03-01T12:00:00Z host heroku router - sock=client at=error code=H27 \
         desc=\"Client Request Interrupted\" tls_version=tls1.3 something status=499",
    );
    assert_eq!(
        (line.at, line.code, line.status),
        (At::Error, Some(ErrorCode::H27), Some(499))
    );
}

#[test]
fn the_encoders_write_what_heroku_writes() {
    let t = at("2024-03-01T12:00:00.5Z");
    let text = router_line(t, &failed(ErrorCode::H12));
    assert_eq!(
        text,
        "<158>1 2024-03-01T12:00:00.500000+00:00 host heroku router - at=error code=H12 \
         desc=\"Request timeout\" method=GET path=\"/\" host=myapp.herokuapp.com dyno= connect= \
         service= status=503 bytes=0"
    );
    assert_eq!(
        app_line(t, "web.1", "Completed 200 OK"),
        "<190>1 2024-03-01T12:00:00.500000+00:00 host app web.1 - Completed 200 OK"
    );
    let batch = parse_messages(&[&router_line(t, &served(18)), &app_line(t, "web.1", "hi")]);
    assert_eq!(batch.lines[0].line, served(18));
    assert_eq!(batch.lines[0].timestamp, t);
    assert_eq!(batch.other, 1);
}

#[test]
fn error_codes_parse_strictly() {
    for good in ["H10", "H99", "R14", "L10"] {
        assert_eq!(
            good.parse::<ErrorCode>().map(|c| c.to_string()),
            Ok(good.to_owned())
        );
    }
    for bad in ["", "H1", "H100", "h12", "12H", "HH1", "H1é"] {
        assert!(bad.parse::<ErrorCode>().is_err(), "{bad}");
    }
    assert_eq!(
        ErrorCode::H27.description(),
        Some("Client Request Interrupted")
    );
    assert_eq!(
        "H99".parse::<ErrorCode>().map(|c| c.description()),
        Ok(None)
    );
}
