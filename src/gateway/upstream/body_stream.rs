//! A reply body as a stream of chunks, whichever HTTP client read it: reqwest for the frontier,
//! hyper for the farm's nodes. Read errors are already [`UpstreamError`]s.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http_body_util::BodyDataStream;

use super::UpstreamError;

/// A reply body, chunk by chunk.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

/// The body of a reqwest response.
pub fn from_reqwest(response: reqwest::Response) -> ByteStream {
    Box::pin(response.bytes_stream().map_err(|e| UpstreamError::from_reqwest(&e)))
}

/// The body of a hyper response; a failed read is a cut answer.
pub fn from_hyper(body: hyper::body::Incoming) -> ByteStream {
    Box::pin(
        BodyDataStream::new(body)
            .map(|chunk| chunk.map_err(|e| UpstreamError::transport(format!("answer cut off ({})", hyper_reason(&e))))),
    )
}

/// A hyper error, short and without addresses.
pub(super) fn hyper_reason(err: &hyper::Error) -> &'static str {
    if err.is_incomplete_message() {
        "connection closed before the answer was complete"
    } else if err.is_timeout() {
        "timed out"
    } else if err.is_parse() {
        "malformed answer"
    } else if err.is_canceled() {
        "request canceled"
    } else {
        "connection error"
    }
}
