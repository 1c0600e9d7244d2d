//! The answer for a connection over `router.max_connections`, written without HTTP machinery:
//! a 503 in OpenAI's error shape with `Retry-After`, then the connection is closed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::gateway::ApiError;

/// How long a refused connection gets to take the answer and say goodbye.
const LINGER: Duration = Duration::from_secs(1);

/// The raw HTTP/1.1 response refusing a connection over the cap.
pub fn over_capacity_response(max_connections: usize) -> Vec<u8> {
    let error = ApiError::unavailable(
        "too_many_connections",
        format!(
            "the router holds its maximum of {max_connections} client connections (router.max_connections); retry shortly"
        ),
        1,
    );
    let body = serde_json::to_vec(&error.envelope()).unwrap_or_default();
    let mut response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response
}

/// Writes `response` to `stream` and closes it, reading (and discarding) what the client sends
/// for a moment first, so the close does not reset the connection before the client reads the answer.
pub async fn refuse(mut stream: TcpStream, response: &[u8]) {
    let written = tokio::time::timeout(LINGER, async {
        stream.write_all(response).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_openai_error() {
        let response = String::from_utf8(over_capacity_response(7)).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("retry-after: 1"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("router.max_connections")
        );
    }
}
