//! TCP connection and SSH handshake, both bounded by `ssh.timeout_secs`.

use std::net::{TcpStream, ToSocketAddrs};

use ssh2::Session;

use super::{SshPullError, SshTarget};

/// Connects to the target and completes the SSH handshake; every later blocking call on the
/// returned session times out after `target.timeout()`.
pub(super) fn connect(target: &SshTarget) -> Result<Session, SshPullError> {
    let connect_err = |cause: String| SshPullError::Connect {
        host: target.host.clone(),
        port: target.port,
        cause,
    };
    let timeout = target.timeout();
    let addrs: Vec<_> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| connect_err(format!("cannot resolve the host name: {e}")))?
        .collect();
    let mut last_err = connect_err("the host name resolved to no address".into());
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                tcp = Some(stream);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last_err = connect_err(format!("{addr}: no answer within {} s", timeout.as_secs()));
            }
            Err(e) => last_err = connect_err(format!("{addr}: {e}")),
        }
    }
    let tcp = tcp.ok_or(last_err)?;
    let _ = tcp.set_nodelay(true);

    let mut sess = Session::new().map_err(|e| super::classify(&e, target, "starting an SSH session"))?;
    sess.set_timeout(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
    sess.set_tcp_stream(tcp);
    sess.handshake()
        .map_err(|e| match super::classify(&e, target, "the SSH handshake") {
            timeout @ SshPullError::Timeout { .. } => timeout,
            _ => connect_err(format!("SSH handshake failed: {}", e.message())),
        })?;
    tracing::debug!(host = %target.host, port = target.port, "SSH handshake done");
    Ok(sess)
}
