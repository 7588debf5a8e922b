use std::time::Duration;

/// Why a drain body was refused, or an [`Aggregator`](crate::Aggregator) could not be built.
///
/// Only the framing of a body is an error: once a length is wrong, where the next frame starts is
/// unknown, so nothing after it can be trusted and the endpoint should answer 400. A frame that is
/// well framed but holds an unreadable syslog header or router line is not an error: it is counted
/// in [`Batch::bad`](crate::Batch::bad) and skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Where a frame should start there is no length: not 1 to 9 decimal digits followed by one
    /// space. This is what `hello`, JSON or newline-separated syslog give.
    #[error("not octet-counted syslog: no frame length at byte {offset}")]
    FrameLength {
        /// Byte offset in the body where a frame length was expected.
        offset: usize,
    },
    /// A frame's length runs past the end of the body (a truncated body, or a length too long).
    #[error("frame at byte {offset} claims {len} bytes but only {available} remain")]
    FrameOverrun {
        /// Byte offset in the body where the frame's length starts.
        offset: usize,
        /// The length the frame claims.
        len: usize,
        /// The bytes left in the body after the length and its space.
        available: usize,
    },
    /// The windows given to [`Aggregator::with_windows`](crate::Aggregator::with_windows) are not
    /// whole seconds with `1 s <= panic <= stable <= 600 s`.
    #[error(
        "windows must be whole seconds with 1 s <= panic ({panic:?}) <= stable ({stable:?}) <= 600 s"
    )]
    Windows {
        /// The stable window given.
        stable: Duration,
        /// The panic window given.
        panic: Duration,
    },
}
