//! A TCP proxy that can cut every connection and refuse new ones: a store outage on demand.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards a local port to `upstream` until cut.
pub struct CuttableProxy {
    /// The local address clients connect to.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl CuttableProxy {
    /// Starts forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accept_up, accept_cuts) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed at once
                }
                let mut cut = accept_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CuttableProxy { addr, up, cuts }
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

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
