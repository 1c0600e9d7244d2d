//! The router's edge: accepting client connections with the limits a shared door needs.
//!
//! - a connection cap (`router.max_connections`): one more is answered 503 and closed;
//! - a cap on chat requests in flight (`router.max_in_flight`): one more is answered 503;
//! - a header read timeout, from a request's first byte (`router.header_read_timeout_secs`);
//! - a keep-alive idle timeout between requests (`router.keep_alive_timeout_secs`);
//! - a bounded graceful shutdown (`router.shutdown_grace_secs`): stop accepting, let in-flight
//!   requests finish up to the grace, then cut the rest.
//!
//! The body read timeout and authentication before the body belong to the handler, which reads
//! the body itself.

mod activity;
mod guarded;
mod refuse;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use self::activity::{Activity, Watched, expired};
use self::guarded::Guarded;
use crate::config::RouterConfig;
use crate::gateway::ApiError;

/// The limits the edge enforces.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// Longest a client may take over a request's headers, from its first byte.
    pub header_read: Duration,
    /// Longest a kept-alive connection may sit idle.
    pub keep_alive: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Chat requests in flight at most.
    pub max_in_flight: usize,
    /// Longest in-flight work may run on after a stop is asked for.
    pub shutdown_grace: Duration,
}

impl EdgeLimits {
    /// The limits of the router section of the fleet config.
    pub fn from_config(router: &RouterConfig) -> Self {
        EdgeLimits {
            header_read: Duration::from_secs(router.header_read_timeout_secs.max(1)),
            keep_alive: Duration::from_secs(router.keep_alive_timeout_secs.max(1)),
            max_connections: router.max_connections.max(1),
            max_in_flight: router.max_in_flight.max(1),
            shutdown_grace: Duration::from_secs(router.shutdown_grace_secs),
        }
    }
}

/// Closes the client connection a request came on (put in every request's extensions): a
/// stream cut for a client that stopped reading must not leave its socket held open.
#[derive(Debug, Clone, Default)]
pub struct ConnectionCloser(Arc<Notify>);

impl ConnectionCloser {
    /// Closes the connection, dropping whatever it still has to send.
    pub fn close(&self) {
        self.0.notify_one();
    }

    async fn closed(&self) {
        self.0.notified().await;
    }
}

/// How a served listener ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServeReport {
    /// Connections still open when the grace ran out, closed with their work cut.
    pub cut: usize,
}

/// Serves `app` on `listener` within `limits` until `stop` resolves, then shuts down within the
/// grace. `on_cut` runs just before connections still working at the end of the grace are cut,
/// so what they drop can be recorded as cut rather than abandoned by their clients.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: EdgeLimits,
    stop: impl Future<Output = ()>,
    on_cut: impl FnOnce(),
) -> ServeReport {
    let connection_slots = Arc::new(Semaphore::new(limits.max_connections));
    let request_slots = Arc::new(Semaphore::new(limits.max_in_flight));
    let refusal: Arc<[u8]> = refuse::over_capacity_response(limits.max_connections).into();
    let (stopping, stop_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors, most often: say so, and give the others time to close.
                        tracing::warn!(%err, "cannot accept a client connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%err, "cannot set TCP_NODELAY on an accepted connection");
                }
                match connection_slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let connection = Connection {
                            app: app.clone(),
                            peer,
                            limits,
                            request_slots: request_slots.clone(),
                            _slot: slot,
                        };
                        connections.spawn(connection.serve(stream, stop_seen.clone()));
                    }
                    Err(_) => {
                        tracing::warn!(max = limits.max_connections, "connection refused: router.max_connections reached");
                        let refusal = refusal.clone();
                        connections.spawn(async move { refuse::refuse(stream, &refusal).await });
                    }
                }
            }
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    let mut report = ServeReport::default();
    if drained.is_err() {
        report.cut = connections.len();
        tracing::warn!(
            connections = report.cut,
            grace_secs = limits.shutdown_grace.as_secs(),
            "shutdown grace ran out; cutting the connections still working"
        );
        on_cut();
        connections.shutdown().await;
    }
    report
}

/// One accepted client connection.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: EdgeLimits,
    request_slots: Arc<Semaphore>,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream, mut stopping: watch::Receiver<bool>) {
        let activity = Activity::new();
        let closer = ConnectionCloser::default();
        let io = TokioIo::new(Watched::new(stream, activity.clone()));
        let service = {
            let activity = activity.clone();
            let (app, peer, slots, closer) = (self.app.clone(), self.peer, self.request_slots.clone(), closer.clone());
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                let busy = activity.request_started();
                let app = app.clone();
                let slots = slots.clone();
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(closer.clone());
                async move { Ok::<_, std::convert::Infallible>(handle(app, &slots, request, busy).await) }
            })
        };
        let connection = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service);
        tokio::pin!(connection);
        let limits = self.limits;
        let mut draining = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(err) = served {
                        tracing::debug!(peer = %self.peer, %err, "client connection ended with an error");
                    }
                    return;
                }
                () = closer.closed() => {
                    tracing::debug!(peer = %self.peer, "closing a client connection whose stream was cut");
                    return;
                }
                why = expired(&activity, limits.header_read, limits.keep_alive), if !draining => {
                    tracing::debug!(peer = %self.peer, ?why, "closing a stalled or idle client connection");
                    return;
                }
                changed = stopping.changed(), if !draining => {
                    if changed.is_err() || activity.busy() == 0 {
                        return;
                    }
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Serves one request through `app`: chat requests over `router.max_in_flight` are answered 503.
async fn handle(
    app: Router,
    slots: &Arc<Semaphore>,
    request: Request<Incoming>,
    busy: activity::BusyGuard,
) -> Response<Guarded<(activity::BusyGuard, Option<OwnedSemaphorePermit>)>> {
    let slot = if request.uri().path().starts_with("/v1/") {
        match slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                let error = ApiError::unavailable(
                    "too_many_requests_in_flight",
                    "the router is serving its maximum of requests in flight (router.max_in_flight); retry shortly",
                    1,
                );
                return error.into_response().map(|body| Guarded::new(body, (busy, None)));
            }
        }
    } else {
        None
    };
    let response = match tower_call(app, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    response.map(|body| Guarded::new(body, (busy, slot)))
}

/// Calls the router as the tower service it is.
async fn tower_call(app: Router, request: Request<Incoming>) -> Result<Response, std::convert::Infallible> {
    use hyper::service::Service as _;
    hyper_util::service::TowerToHyperService::new(app).call(request).await
}
