//! A TCP proxy that can cut every connection and refuse new ones (a refused connection), or go
//! silent: keep every connection open, accept new ones, and forward nothing (a network that
//! drops packets). Either is a store outage on demand; `restore` ends it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards a local port to `upstream` until cut or silenced.
pub struct CuttableProxy {
    /// The local address clients connect to.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    silent: watch::Sender<bool>,
}

impl CuttableProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (silent, _) = watch::channel(false);
        let (accept_up, accept_cuts, accept_silent) = (up.clone(), cuts.clone(), silent.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed at once
                }
                let mut cut = accept_cuts.subscribe();
                let (quiet_in, quiet_out) = (accept_silent.subscribe(), accept_silent.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        _ = pump(client_read, server_write, quiet_in) => {}
                        _ = pump(server_read, client_write, quiet_out) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CuttableProxy { addr, up, cuts, silent }
    }

    /// Starts forwarding to the server of the PostgreSQL URL `db_url`; returns the proxy and
    /// the same URL pointed at it.
    pub async fn in_front_of(db_url: &str) -> (CuttableProxy, String) {
        use std::net::ToSocketAddrs;
        let real = url::Url::parse(db_url).expect("a database URL");
        let upstream = (real.host_str().expect("a host"), real.port().unwrap_or(5432))
            .to_socket_addrs()
            .expect("the database host resolves")
            .next()
            .expect("an address");
        let proxy = CuttableProxy::start(upstream).await;
        let mut via_proxy = real;
        via_proxy.set_host(Some("127.0.0.1")).expect("set host");
        via_proxy.set_port(Some(proxy.addr.port())).expect("set port");
        (proxy, via_proxy.to_string())
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Keeps every connection open and accepts new ones, but forwards nothing either way.
    pub fn silence(&self) {
        self.silent.send_replace(true);
    }

    /// Accepts connections and forwards again (bytes held while silent are delivered).
    pub fn restore(&self) {
        self.silent.send_replace(false);
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, holding everything while the proxy is silent.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut silent: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if silent.wait_for(|s| !*s).await.is_err() {
            return;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = silent.wait_for(|s| *s) => continue,
        };
        if silent.wait_for(|s| !*s).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
