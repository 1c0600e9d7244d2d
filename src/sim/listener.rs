//! Listening sockets of the simulated servers, with the `down` fault done for real: the socket closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::sim::SimError;
use crate::sim::faults::FaultKind;

/// Decides, per request, to close the connection without an answer.
pub(crate) type Refuse = Arc<dyn Fn(&hyper::Request<Incoming>) -> bool + Send + Sync>;

/// Binds `addr` for the server called `name`; a port in use is one clear error.
pub(crate) async fn bind(addr: SocketAddr, name: &str) -> Result<TcpListener, SimError> {
    TcpListener::bind(addr).await.map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => SimError::PortInUse {
            port: addr.port(),
            name: name.to_string(),
        },
        _ => SimError::Bind {
            addr,
            name: name.to_string(),
            source,
        },
    })
}

/// What a server listens to besides connections.
pub(crate) struct Controls {
    /// The target's fault: `down` closes the listener until cleared (nodes).
    pub(crate) fault: Option<watch::Receiver<Option<FaultKind>>>,
    /// Requests to answer by closing the connection (the frontier's `down`).
    pub(crate) refuse: Option<Refuse>,
    /// Becomes true when the farm shuts down.
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Serves `router` until shutdown, closing and re-binding the same address around `down` faults.
pub(crate) async fn serve(mut listener: TcpListener, router: Router, mut controls: Controls) {
    let Ok(addr) = listener.local_addr() else { return };
    loop {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                _ = controls.shutdown.wait_for(|stop| *stop) => return,
                _ = until_down(&mut controls.fault, true) => break,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        connections.spawn(serve_connection(stream, router.clone(), controls.refuse.clone()));
                    }
                }
                Some(_) = connections.join_next() => {}
            }
        }
        // Down: refuse new connections and cut the open ones, as a node that lost power would.
        drop(listener);
        drop(connections);
        tokio::select! {
            _ = controls.shutdown.wait_for(|stop| *stop) => return,
            _ = until_down(&mut controls.fault, false) => {}
        }
        listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(error) => {
                    tracing::warn!(%addr, %error, "re-binding a simulated server failed; retrying");
                    tokio::select! {
                        _ = controls.shutdown.wait_for(|stop| *stop) => return,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    }
                }
            }
        };
    }
}

/// Resolves once the fault's `down` state equals `down`; never without a fault channel.
async fn until_down(fault: &mut Option<watch::Receiver<Option<FaultKind>>>, down: bool) {
    if let Some(rx) = fault
        && rx
            .wait_for(|kind| (*kind == Some(FaultKind::Down)) == down)
            .await
            .is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
}

/// The error that makes hyper close a connection without writing a response.
#[derive(Debug, thiserror::Error)]
#[error("connection closed by fault injection")]
struct Refused;

async fn serve_connection(stream: TcpStream, router: Router, refuse: Option<Refuse>) {
    let _ = stream.set_nodelay(true);
    let service = TowerToHyperService::new(router);
    let gate = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let refused = refuse.as_ref().is_some_and(|refuse| refuse(&request));
        let call = (!refused).then(|| hyper::service::Service::call(&service, request));
        async move {
            match call {
                Some(call) => call.await.map_err(|never| match never {}),
                None => Err(Refused),
            }
        }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), gate);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "simulated connection ended");
    }
}
