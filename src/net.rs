//! Listening sockets with one-line errors that say which port and what for, and the HTTP
//! client settings every outgoing connection shares.

use std::net::SocketAddr;
use std::sync::OnceLock;

use anyhow::anyhow;
use axum::serve::{ListenerExt, TapIo};
use tokio::net::{TcpListener, TcpStream};

/// A client builder that follows no redirects and uses the process's one TLS connector.
///
/// Every client built apart would load and parse the system's root certificates again: about
/// 0.7 MB of memory and tens of milliseconds of CPU each, in a process (the demo, a console)
/// that holds half a dozen clients. Callers add their own timeouts.
pub fn http_client() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    match shared_tls() {
        Some(tls) => builder.tls_backend_preconfigured(tls.clone()),
        None => builder,
    }
}

/// The TLS connector of [`http_client`], built once; `None` when the platform's TLS library
/// cannot be set up (each client then tries on its own, and says so when it is used).
fn shared_tls() -> Option<&'static native_tls::TlsConnector> {
    static TLS: OnceLock<Option<native_tls::TlsConnector>> = OnceLock::new();
    TLS.get_or_init(|| match native_tls::TlsConnector::new() {
        Ok(tls) => Some(tls),
        Err(err) => {
            tracing::warn!(%err, "cannot set up TLS; HTTPS upstreams will fail");
            None
        }
    })
    .as_ref()
}

/// Binds `addr` for `what` (e.g. "router", "mini-03"); a busy port is one clear error line.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|err| match err.kind() {
        std::io::ErrorKind::AddrInUse => anyhow!("port {} is in use ({what} on {addr})", addr.port()),
        std::io::ErrorKind::PermissionDenied => anyhow!("not allowed to listen on {addr} ({what})"),
        std::io::ErrorKind::AddrNotAvailable => anyhow!("{} is not an address of this machine ({what})", addr.ip()),
        _ => anyhow!("cannot listen on {addr} ({what}): {err}"),
    })
}

/// An accepting listener for `axum::serve` whose connections have `TCP_NODELAY` set (plaintext
/// `axum::serve` leaves Nagle's algorithm on, which holds back the second of two small writes,
/// e.g. consecutive SSE chunks, until the first is acknowledged).
pub fn no_delay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    listener.tap_io(set_no_delay as fn(&mut TcpStream))
}

fn set_no_delay(stream: &mut TcpStream) {
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY on an accepted connection");
    }
}

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or, on Unix, SIGTERM, which is what
/// service managers (systemd, launchd) send. Servers wait on this so they stop gracefully, flushing
/// what they hold, instead of being killed mid-write.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(err) => tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops gracefully"),
        }
    }
    if let Err(err) = tokio::signal::ctrl_c().await {
        tracing::warn!(%err, "cannot listen for Ctrl-C");
        std::future::pending::<()>().await;
    }
}

/// File descriptors a process serving or polling `nodes` nodes may hold: per node a listener or
/// poller and a few keep-alive connections, plus the rest of the process.
pub fn descriptors_for(nodes: usize) -> u64 {
    (nodes as u64) * 8 + 256
}

/// Raises the soft limit on open files towards `needed` (up to the hard limit). The error says
/// what to set when the hard limit is below it; the limit is raised as far as it goes anyway.
pub fn raise_open_files(needed: u64) -> anyhow::Result<()> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    if soft >= needed {
        return Ok(());
    }
    let raised = rlimit::increase_nofile_limit(needed)?;
    tracing::debug!(from = soft, to = raised, "raised the open-file limit");
    if raised < needed {
        anyhow::bail!(
            "{needed} open files may be needed but the limit is {raised} (hard limit {hard}): raise it with `ulimit -n {needed}` (or LimitNOFILE= in a systemd unit)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_no_delay() {
        use axum::serve::Listener;
        let listener = bind("127.0.0.1:0".parse().unwrap(), "test").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = no_delay(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }

    #[tokio::test]
    async fn busy_port_is_one_clear_line() {
        let first = bind("127.0.0.1:0".parse().unwrap(), "first").await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr, "agent").await.unwrap_err().to_string();
        assert_eq!(err, format!("port {} is in use (agent on {addr})", addr.port()));
    }
}
