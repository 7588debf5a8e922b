//! RFC 6587 octet-counting framing, as Logplex sends it: `<len> <msg>` repeated, where `len` is the
//! decimal byte count of `msg`.

use std::iter::FusedIterator;

use crate::Error;

/// At most 9 digits: no Logplex message comes near a gigabyte, and it keeps the length in a `usize`
/// on every platform without overflow checks.
const MAX_LEN_DIGITS: usize = 9;

/// The frames of a drain body, borrowed from it; see [`frames`].
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    body: &'a [u8],
    pos: usize,
    failed: bool,
}

/// Iterates the messages of an octet-counted body without copying them.
///
/// Each item is one message as framed (a trailing `\n` inside the count is kept), or an [`Error`]
/// after which the iterator ends: once a length is wrong, where the next frame starts is unknown.
/// Line breaks between frames (outside any count) are skipped, as some senders add one after each
/// frame; an empty body, or one of line breaks only, has no frames.
///
/// The rule, exactly: a frame is 1 to 9 ASCII digits, one space, then that many bytes (`0 ` is an
/// empty frame, which the syslog parser then counts as a bad line). Anything else where a frame should start is [`Error::FrameLength`]; a length past the
/// end of the body is [`Error::FrameOverrun`].
///
/// ```
/// let body = b"5 hello6 world\n";
/// let frames: Vec<&[u8]> = autoscaled_router_logs::frames(body).collect::<Result<_, _>>()?;
/// assert_eq!(frames, [&b"hello"[..], &b"world\n"[..]]);
/// # Ok::<(), autoscaled_router_logs::Error>(())
/// ```
#[must_use]
pub fn frames(body: &[u8]) -> Frames<'_> {
    Frames {
        body,
        pos: 0,
        failed: false,
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while let Some(b'\n' | b'\r') = self.body.get(self.pos) {
            self.pos += 1;
        }
        if self.pos == self.body.len() {
            return None;
        }
        let result = self.frame_at(self.pos);
        match result {
            Ok((_, end)) => self.pos = end,
            Err(_) => self.failed = true,
        }
        Some(result.map(|(start, end)| &self.body[start..end]))
    }
}

impl FusedIterator for Frames<'_> {}

impl Frames<'_> {
    /// The message span of the frame starting at `offset`, or why there is none.
    fn frame_at(&self, offset: usize) -> Result<(usize, usize), Error> {
        let rest = &self.body[offset..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > MAX_LEN_DIGITS || rest.get(digits) != Some(&b' ') {
            return Err(Error::FrameLength { offset });
        }
        let len = rest[..digits]
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
        let start = offset + digits + 1;
        let available = self.body.len() - start;
        if len > available {
            return Err(Error::FrameOverrun {
                offset,
                len,
                available,
            });
        }
        Ok((start, start + len))
    }
}

/// Frames messages as Logplex does: each as `<len> <msg>`, back to back, nothing added.
///
/// The inverse of [`frames`]; with [`router_line`](crate::router_line) it builds the drain bodies
/// the demo and the end-to-end tests post.
///
/// ```
/// use autoscaled_router_logs::frame;
/// assert_eq!(frame(&["hello", "world\n"]), b"5 hello6 world\n");
/// ```
#[must_use]
pub fn frame<M: AsRef<[u8]>>(messages: &[M]) -> Vec<u8> {
    let mut body = Vec::with_capacity(messages.iter().map(|m| m.as_ref().len() + 5).sum());
    for message in messages {
        let message = message.as_ref();
        body.extend_from_slice(message.len().to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(message);
    }
    body
}
