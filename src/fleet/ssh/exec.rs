//! Running the command on a pty, reporting progress live, and stopping it on cancel.
//!
//! A pty is requested so that closing the channel hangs the remote process up (sshd closes the
//! pty and the kernel sends SIGHUP to its process group); on cancel a Ctrl-C is written first so
//! it also gets SIGINT. stderr is merged into the one stream the pty carries anyway.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ssh2::{Channel, ExtendedData, Session};

use super::progress_parse::{TerminalLines, parse_progress_line};
use super::{SshPullError, SshTarget};
use crate::fleet::{PullEvent, PullProgress};

/// How long to sleep when nothing arrived; bounds how late a cancel is noticed.
const POLL: Duration = Duration::from_millis(20);

/// libssh2's "would block" (`LIBSSH2_ERROR_EAGAIN`).
const EAGAIN: ssh2::ErrorCode = ssh2::ErrorCode::Session(-37);

/// Runs `command` and returns when it exits (Ok on status 0), is cancelled, or goes silent for
/// longer than the target's timeout (the CLI redraws every 100 ms, so silence means trouble).
pub(super) fn run(
    sess: &Session,
    target: &SshTarget,
    command: &str,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(PullEvent),
) -> Result<(), SshPullError> {
    let step = |during: &'static str| move |e: ssh2::Error| super::classify(&e, target, during);
    let mut ch = sess.channel_session().map_err(step("opening a session channel"))?;
    ch.handle_extended_data(ExtendedData::Merge)
        .map_err(step("merging stderr"))?;
    ch.request_pty("dumb", None, Some((160, 24, 0, 0)))
        .map_err(step("requesting a pty"))?;
    if cancel.load(Ordering::Relaxed) {
        return Err(SshPullError::Cancelled {
            host: target.host.clone(),
        });
    }
    tracing::debug!(host = %target.host, %command, "running remote command");
    ch.exec(command).map_err(step("starting the remote command"))?;
    sess.set_blocking(false);

    let mut output = Output::default();
    let mut buf = [0u8; 16 * 1024];
    let mut last_data = Instant::now();
    loop {
        if cancel.load(Ordering::Relaxed) {
            stop_remote(&mut ch);
            return Err(SshPullError::Cancelled {
                host: target.host.clone(),
            });
        }
        match ch.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                last_data = Instant::now();
                output.feed(&buf[..n], on_event);
                continue;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(io_error(target, "reading the remote output", &e)),
        }
        if ch.eof() {
            break;
        }
        if last_data.elapsed() > target.timeout() {
            stop_remote(&mut ch);
            return Err(timeout(target, "waiting for `ollama pull` output"));
        }
        std::thread::sleep(POLL);
    }
    output.finish(on_event);

    let deadline = Instant::now() + target.timeout();
    loop {
        match ch.wait_close() {
            Ok(()) => break,
            Err(e) if e.code() == EAGAIN && Instant::now() < deadline && !cancel.load(Ordering::Relaxed) => {
                std::thread::sleep(POLL)
            }
            Err(e) if e.code() == EAGAIN && cancel.load(Ordering::Relaxed) => {
                return Err(SshPullError::Cancelled {
                    host: target.host.clone(),
                });
            }
            Err(e) if e.code() == EAGAIN => return Err(timeout(target, "waiting for `ollama pull` to exit")),
            Err(e) => return Err(super::classify(&e, target, "waiting for `ollama pull` to exit")),
        }
    }
    let exit_code = ch.exit_status().map_err(step("reading the exit status"))?;
    let signal = ch.exit_signal().ok().and_then(|s| s.exit_signal);
    tracing::debug!(host = %target.host, exit_code, ?signal, "remote command finished");
    match (exit_code, signal) {
        (0, None) => Ok(()),
        (code, signal) => Err(SshPullError::RemoteFailed {
            host: target.host.clone(),
            exit_code: code,
            last_line: match signal {
                Some(sig) => format!("killed by SIG{sig}"),
                None => output.last_line(),
            },
        }),
    }
}

/// Interrupts and hangs up the remote command: Ctrl-C on the pty (SIGINT), then channel close
/// (sshd releases the pty: SIGHUP). Best effort, bounded to about a second; dropping the
/// session afterwards closes the connection, which hangs up whatever is left.
fn stop_remote(ch: &mut Channel) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut interrupted = false;
    while Instant::now() < deadline {
        if !interrupted {
            match ch.write(&[0x03]).and_then(|_| ch.flush()) {
                Ok(()) => interrupted = true,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => interrupted = true,
            }
        }
        if interrupted {
            match ch.close() {
                Err(e) if e.code() == EAGAIN => {}
                _ => return,
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn timeout(target: &SshTarget, during: &'static str) -> SshPullError {
    SshPullError::Timeout {
        host: target.host.clone(),
        port: target.port,
        secs: target.timeout().as_secs(),
        during,
    }
}

fn io_error(target: &SshTarget, during: &'static str, e: &std::io::Error) -> SshPullError {
    if e.kind() == ErrorKind::TimedOut {
        return timeout(target, during);
    }
    SshPullError::Ssh {
        host: target.host.clone(),
        port: target.port,
        during,
        message: e.to_string(),
    }
}

/// The output seen so far: progress reported once per change, and the last line kept for errors.
#[derive(Default)]
struct Output {
    lines: TerminalLines,
    /// Last report per status: every redraw repeats every line, only changes are passed on.
    reported: HashMap<String, PullProgress>,
    last_line: Option<String>,
    last_error: Option<String>,
}

impl Output {
    fn feed(&mut self, bytes: &[u8], on_event: &mut dyn FnMut(PullEvent)) {
        for line in self.lines.push(bytes) {
            self.line(line, on_event);
        }
    }

    fn finish(&mut self, on_event: &mut dyn FnMut(PullEvent)) {
        if let Some(line) = self.lines.finish() {
            self.line(line, on_event);
        }
    }

    fn line(&mut self, line: String, on_event: &mut dyn FnMut(PullEvent)) {
        match parse_progress_line(&line) {
            Some(progress) if self.reported.get(&progress.status) != Some(&progress) => {
                self.reported.insert(progress.status.clone(), progress.clone());
                on_event(PullEvent::Progress(progress));
            }
            Some(_) => {}
            None if line.starts_with("Error") => self.last_error = Some(line.clone()),
            None => {}
        }
        self.last_line = Some(line);
    }

    /// The `Error: …` line if there was one, else the last line, else a placeholder.
    fn last_line(&self) -> String {
        let line = self.last_error.as_ref().or(self.last_line.as_ref());
        line.map_or_else(|| "(no output)".to_string(), |l| l.chars().take(300).collect())
    }
}
