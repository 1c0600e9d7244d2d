//! What one client connection is doing, as the idle and header timeouts see it.
//!
//! A connection is *idle* between requests, *reading a head* from the first byte of a request
//! until its headers are parsed, and *busy* while a request of it is being served (until its
//! response body is finished or dropped). Only an idle or head-reading connection can time out:
//! a busy one is bounded by the body read timeout and the upstream timeouts instead.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Why a connection was closed by its watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// The client sent part of a request's headers and then stalled.
    HeaderRead,
    /// The connection sat idle between requests.
    KeepAlive,
}

/// Shared state of one connection: requests being served and when the last state change was.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    busy: AtomicUsize,
    /// Milliseconds after `epoch` (plus one) when the current request's first byte came; 0 when none.
    head_since: AtomicU64,
    /// Milliseconds after `epoch` when the connection last became idle.
    idle_since: AtomicU64,
    /// Wakes the watcher when a request's first byte starts the header clock.
    head_started: Notify,
}

impl Activity {
    /// A fresh, idle connection.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            epoch: Instant::now(),
            busy: AtomicUsize::new(0),
            head_since: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// Requests of this connection being served now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    /// Bytes arrived from the client: the first of a new request starts its header clock.
    fn bytes_read(&self) {
        if self.busy() == 0 && self.head_since.load(Ordering::Acquire) == 0 {
            self.head_since.store(self.now_ms() + 1, Ordering::Release);
            self.head_started.notify_one();
        }
    }

    /// A request's headers were parsed: it is served until the returned guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(0, Ordering::Release);
        BusyGuard(self.clone())
    }

    /// When the connection expires if nothing changes, and why; `None` while it is busy.
    pub fn deadline(&self, header_read: Duration, keep_alive: Duration) -> Option<(Instant, Expiry)> {
        if self.busy() > 0 {
            return None;
        }
        match self.head_since.load(Ordering::Acquire) {
            0 => Some((
                self.at(self.idle_since.load(Ordering::Acquire)) + keep_alive,
                Expiry::KeepAlive,
            )),
            since => Some((self.at(since - 1) + header_read, Expiry::HeaderRead)),
        }
    }
}

/// Marks a request of a connection as being served; dropping it makes the connection idle again.
#[derive(Debug)]
pub struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.idle_since.store(activity.now_ms(), Ordering::Release);
        activity.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves when the connection has been idle, or stalled in a request's headers, for too long.
pub async fn expired(activity: &Activity, header_read: Duration, keep_alive: Duration) -> Expiry {
    loop {
        match activity.deadline(header_read, keep_alive) {
            Some((deadline, why)) if deadline <= Instant::now() => return why,
            Some((deadline, _)) => {
                // A first byte moves the deadline closer: look again when one comes.
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {}
                    () = activity.head_started.notified() => {}
                }
            }
            // Busy: its request is bounded by other timeouts; look again after a while.
            None => tokio::time::sleep(header_read.min(keep_alive)).await,
        }
    }
}

/// A socket that tells its [`Activity`] when bytes arrive.
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// Wraps `inner`, reporting reads to `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(75);

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_expires_after_the_keep_alive() {
        let activity = Activity::new();
        let (deadline, why) = activity.deadline(HEAD, IDLE).unwrap();
        assert_eq!(why, Expiry::KeepAlive);
        assert_eq!(deadline, activity.epoch + IDLE);
        assert_eq!(expired(&activity, HEAD, IDLE).await, Expiry::KeepAlive);
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_byte_starts_the_header_clock_and_a_request_stops_it() {
        let activity = Activity::new();
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.bytes_read();
        let (deadline, why) = activity.deadline(HEAD, IDLE).unwrap();
        assert_eq!(why, Expiry::HeaderRead);
        assert!(deadline <= Instant::now() + HEAD);
        let guard = activity.request_started();
        activity.bytes_read();
        assert_eq!(activity.deadline(HEAD, IDLE), None, "a busy connection never expires");
        tokio::time::advance(Duration::from_secs(600)).await;
        drop(guard);
        let (deadline, why) = activity.deadline(HEAD, IDLE).unwrap();
        assert_eq!(why, Expiry::KeepAlive);
        assert!(deadline >= Instant::now() + IDLE - Duration::from_millis(5));
    }
}
