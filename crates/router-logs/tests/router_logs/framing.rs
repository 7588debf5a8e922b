//! Octet-counting framing: what is a frame, what is a framing error.

use autoscaled_router_logs::{Error, frame, frames, parse_body};

fn all(body: &[u8]) -> Result<Vec<&[u8]>, Error> {
    frames(body).collect()
}

#[test]
fn frames_borrow_messages_back_to_back() {
    let body =
        b"83 <40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n\
                 5 hello";
    let messages = all(body).expect("frames");
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[0],
        &b"<40>1 2012-11-30T06:45:29+00:00 host app web.3 - State changed from starting to up\n"[..]
    );
    assert_eq!(messages[1], b"hello");
    assert!(
        std::ptr::eq(messages[1].as_ptr(), &body[body.len() - 5]),
        "borrowed, not copied"
    );
}

#[test]
fn empty_body_and_line_breaks_between_frames_are_fine() {
    assert_eq!(all(b""), Ok(vec![]));
    assert_eq!(all(b"\r\n"), Ok(vec![]));
    assert_eq!(all(b"1 a\n1 b\r\n"), Ok(vec![&b"a"[..], &b"b"[..]]));
    assert_eq!(
        all(b"0 "),
        Ok(vec![&b""[..]]),
        "an empty frame is framing, then a bad line"
    );
    assert_eq!(parse_body(b"0 ").map(|b| b.bad), Ok(1));
}

#[test]
fn what_is_not_framing_is_an_error() {
    for (body, offset) in [
        (&b"hello"[..], 0),
        (b"{\"lines\": []}", 0),
        (b" 5 hello", 0),
        (b"5hello", 0),
        (b"5\thello", 0),
        (b"-5 hello", 0),
        (b"1234567890 x", 0),
        (b"5 hello world", 7),
        (b"5 hellox", 7),
    ] {
        assert_eq!(
            all(body),
            Err(Error::FrameLength { offset }),
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            parse_body(body).map(|b| b.lines.len()),
            Err(Error::FrameLength { offset })
        );
    }
}

#[test]
fn a_length_past_the_end_is_an_overrun() {
    assert_eq!(
        all(b"1 a10 short"),
        Err(Error::FrameOverrun {
            offset: 3,
            len: 10,
            available: 5
        })
    );
}

#[test]
fn a_length_off_by_one_is_a_framing_error_either_way() {
    let message = "<158>1 2024-03-01T12:00:00Z host heroku router - at=info method=GET status=200";
    let exact = format!("{} {message}", message.len());
    assert_eq!(all(exact.as_bytes()), Ok(vec![message.as_bytes()]));

    let long = format!("{} {message}", message.len() + 1);
    assert!(matches!(
        all(long.as_bytes()),
        Err(Error::FrameOverrun { offset: 0, .. })
    ));

    // One short: the last byte of the message is read where the next frame's length should be.
    let short = format!("{} {message}", message.len() - 1);
    assert_eq!(
        all(short.as_bytes()),
        Err(Error::FrameLength {
            offset: short.len() - 1
        })
    );
}

#[test]
fn the_iterator_ends_after_an_error() {
    let mut it = frames(b"1 a x 1 b");
    assert_eq!(it.next(), Some(Ok(&b"a"[..])));
    assert!(matches!(
        it.next(),
        Some(Err(Error::FrameLength { offset: 3 }))
    ));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
}

#[test]
fn frame_writes_what_frames_reads() {
    let messages = ["a", "", "héllo wörld\n", "12 not a length"];
    let body = frame(&messages);
    assert_eq!(&body[..4], b"1 a0");
    let read: Vec<&[u8]> = all(&body).expect("frames");
    assert_eq!(read, messages.map(str::as_bytes));
}
