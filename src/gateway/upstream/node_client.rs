//! The HTTP client for the farm's nodes: plain HTTP/1.1 on the tailnet, pooled keep-alive
//! connections, no redirects followed. It skips what a general-purpose client does on every
//! request (URL parsing, redirect and retry layers), so the router's hop to a node costs no more
//! than the hop itself.

use std::time::Duration;

use axum::http::{HeaderMap, Request, StatusCode, Uri, header};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::UpstreamError;
use super::body_stream::{self, ByteStream};

/// Longest wait for a node's TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an unused connection to a node is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// A pooled HTTP/1.1 client for calls to the nodes; cheap to clone.
#[derive(Clone)]
pub struct NodeClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for NodeClient {
    fn default() -> Self {
        Self::new()
    }
}

/// A node's answer: its status and headers, and the body still to be read.
pub struct NodeResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, chunk by chunk.
    pub body: ByteStream,
}

impl NodeClient {
    /// A client with the router's connect timeout and keep-alive; Nagle off.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        NodeClient { inner }
    }

    /// Posts `json` to `url`; the answer's status and headers must arrive within `first_byte`.
    pub async fn post_json(
        &self,
        url: &str,
        json: Vec<u8>,
        first_byte: Duration,
    ) -> Result<NodeResponse, UpstreamError> {
        let uri: Uri = url
            .parse()
            .map_err(|_| UpstreamError::unconfigured("the node's URL is not a valid http:// URL"))?;
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(json)))
            .map_err(|_| UpstreamError::unconfigured("the node's URL cannot be requested"))?;
        match tokio::time::timeout(first_byte, self.inner.request(request)).await {
            Err(_) => Err(UpstreamError::timeout(format!(
                "no answer within {}s",
                first_byte.as_secs()
            ))),
            Ok(Err(err)) if err.is_connect() => Err(UpstreamError::connect("connection refused or unreachable")),
            Ok(Err(err)) => Err(UpstreamError::transport(format!(
                "the node's connection failed ({})",
                request_failure(&err)
            ))),
            Ok(Ok(response)) => {
                let (parts, body) = response.into_parts();
                Ok(NodeResponse {
                    status: parts.status,
                    headers: parts.headers,
                    body: body_stream::from_hyper(body),
                })
            }
        }
    }
}

/// Why a request failed after connecting, short and without addresses.
fn request_failure(err: &hyper_util::client::legacy::Error) -> &'static str {
    use std::error::Error as _;
    err.source()
        .and_then(|s| s.downcast_ref::<hyper::Error>())
        .map_or("connection error", body_stream::hyper_reason)
}
