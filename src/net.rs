//! Listening sockets with one-line errors that say which port and what for.

use std::net::SocketAddr;

use anyhow::anyhow;
use tokio::net::TcpListener;

/// Binds `addr` for `what` (e.g. "router", "mini-03"); a busy port is one clear error line.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|err| match err.kind() {
        std::io::ErrorKind::AddrInUse => anyhow!("port {} is in use ({what} on {addr})", addr.port()),
        std::io::ErrorKind::PermissionDenied => anyhow!("not allowed to listen on {addr} ({what})"),
        std::io::ErrorKind::AddrNotAvailable => anyhow!("{} is not an address of this machine ({what})", addr.ip()),
        _ => anyhow!("cannot listen on {addr} ({what}): {err}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn busy_port_is_one_clear_line() {
        let first = bind("127.0.0.1:0".parse().unwrap(), "first").await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr, "agent").await.unwrap_err().to_string();
        assert_eq!(err, format!("port {} is in use (agent on {addr})", addr.port()));
    }
}
