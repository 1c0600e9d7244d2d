//! Reading a request body within the router's limits: an over-limit `Content-Length` is refused
//! unread, a body that grows past the limit is refused as soon as it does, and a body that does
//! not arrive within `router.body_read_timeout_secs` gets a 408.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures::StreamExt;

use super::errors::ApiError;
use crate::config::RouterConfig;

/// The whole body, read under the limits of `router`.
pub async fn read_body(router: &RouterConfig, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let limit = router.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::too_large(limit));
    }
    let wait = Duration::from_secs(router.body_read_timeout_secs.max(1));
    let capacity = declared.map_or(0, |len| len as usize);
    tokio::time::timeout(wait, collect(body, limit, capacity))
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::request_timeout(format!(
                "the request body did not arrive within {} s (router.body_read_timeout_secs)",
                wait.as_secs()
            )))
        })
}

/// Collects `body`, refusing it once it passes `limit` bytes.
async fn collect(body: Body, limit: usize, capacity: usize) -> Result<Bytes, ApiError> {
    let mut frames = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|err| {
            ApiError::bad_request("unreadable_body", format!("could not read the request body: {err}"))
        })?;
        let so_far = first.as_ref().map_or(joined.len(), Bytes::len);
        if so_far + frame.len() > limit {
            return Err(ApiError::too_large(limit));
        }
        match first.take() {
            None if joined.is_empty() => first = Some(frame),
            Some(head) => {
                joined.reserve(capacity.max(head.len() + frame.len()));
                joined.extend_from_slice(&head);
                joined.extend_from_slice(&frame);
            }
            None => joined.extend_from_slice(&frame),
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(joined)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(limit: usize) -> RouterConfig {
        RouterConfig {
            max_body_bytes: limit,
            body_read_timeout_secs: 1,
            ..RouterConfig::default()
        }
    }

    fn chunked(parts: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<Bytes, std::io::Error>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        Body::from_stream(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn bodies_in_one_or_many_frames_arrive_whole() {
        let config = router(1024);
        let headers = HeaderMap::new();
        assert_eq!(read_body(&config, &headers, chunked(&[b"abc"])).await.unwrap(), "abc");
        assert_eq!(
            read_body(&config, &headers, chunked(&[b"ab", b"c", b"de"]))
                .await
                .unwrap(),
            "abcde"
        );
        assert_eq!(read_body(&config, &headers, Body::empty()).await.unwrap(), "");
    }

    #[tokio::test]
    async fn an_over_limit_length_is_refused_unread_and_a_growing_body_when_it_passes() {
        let config = router(4);
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, "5".parse().unwrap());
        let never: Body = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        assert_eq!(read_body(&config, &headers, never).await.unwrap_err().status, 413);
        let grows = chunked(&[b"abc", b"de"]);
        assert_eq!(
            read_body(&config, &HeaderMap::new(), grows).await.unwrap_err().code,
            "request_too_large"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out() {
        let never: Body = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let err = read_body(&router(1024), &HeaderMap::new(), never).await.unwrap_err();
        assert_eq!((err.status.as_u16(), err.code.as_str()), (408, "request_timeout"));
        assert!(err.message.contains("router.body_read_timeout_secs"));
    }
}
