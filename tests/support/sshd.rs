//! A real OpenSSH `sshd` on loopback for one test, with generated keys and a stand-in `ollama`.
//!
//! Each [`Sshd`] lives in its own temp dir: an ed25519 host key, a client key pair in
//! `authorized_keys`, a second client key that is *not* authorized, a spare host key for
//! "changed key" tests, an `sshd_config` on a free `127.0.0.1` port, and `bin/ollama`, a POSIX sh
//! stand-in on the session's `PATH` (via `SetEnv`). The stand-in appends its arguments to
//! `ollama-argv.log`, writes its PID to `ollama.pid`, and draws progress the way the real CLI
//! does (redraw frames with ANSI escapes on stderr). `missing:latest` fails like a missing model;
//! `slow:latest` keeps pulling for 60 s. sshd runs in the foreground (`-D -e`) with its log in
//! `sshd.log`, and is killed on drop. Missing OpenSSH binaries fail the test with what to install.
#![allow(dead_code)]

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";
const INSTALL: &str = "install OpenSSH: apt-get install openssh-server openssh-client";

/// A running sshd; killed when dropped.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    child: Child,
}

impl Sshd {
    /// Generates keys and config and starts sshd; returns once it is listening.
    pub fn start() -> Sshd {
        if !Path::new(SSHD).exists() {
            panic!("{SSHD} not found; {INSTALL}");
        }
        let dir = tempfile::Builder::new()
            .prefix("farmhand-sshd-")
            .tempdir()
            .expect("temp dir");
        for name in [
            "host_ed25519",
            "client_ed25519",
            "stranger_ed25519",
            "impostor_host_ed25519",
        ] {
            keygen(&dir.path().join(name));
        }
        let client_pub = read(&dir.path().join("client_ed25519.pub"));
        fs::write(dir.path().join("authorized_keys"), client_pub).expect("write authorized_keys");
        write_stand_in(dir.path());
        // Privilege separation needs this directory when sshd runs as root.
        let _ = fs::create_dir_all("/run/sshd");
        let user = whoami();

        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let config = write_config(dir.path(), port);
            let log_path = dir.path().join("sshd.log");
            let log = fs::File::create(&log_path).expect("create sshd.log");
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {SSHD}: {e}; {INSTALL}"));
            match wait_listening(&mut child, &log_path, port) {
                Ok(()) => return Sshd { dir, port, user, child },
                Err(log) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_log = log;
                    // The port can be taken between probing and sshd's bind: try another.
                    if !last_log.contains("Address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    /// The port sshd listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user the test authenticates as (whoever runs the tests).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// This sshd's temp dir (a good place for a test's known_hosts).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A private key listed in authorized_keys.
    pub fn client_key(&self) -> PathBuf {
        self.dir().join("client_ed25519")
    }

    /// A valid private key that is not in authorized_keys.
    pub fn stranger_key(&self) -> PathBuf {
        self.dir().join("stranger_ed25519")
    }

    /// The host key as `ssh-ed25519 AAAA…` (type and base64, no comment).
    pub fn host_public_key(&self) -> String {
        type_and_key(&read(&self.dir().join("host_ed25519.pub")))
    }

    /// The host key's `SHA256:…` fingerprint according to `ssh-keygen -l`.
    pub fn host_fingerprint(&self) -> String {
        fingerprint_of(&self.dir().join("host_ed25519.pub"))
    }

    /// The known_hosts line for this server: `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_public_key())
    }

    /// Writes a known_hosts file that trusts this server's real host key.
    pub fn write_known_hosts(&self, path: &Path) {
        let other = type_and_key(&read(&self.dir().join("stranger_ed25519.pub")));
        let text = format!("# other hosts\nexample.org {other}\n{}\n", self.known_hosts_line());
        fs::write(path, text).expect("write known_hosts");
    }

    /// Writes a known_hosts file that records a different key for this server (a "changed" key).
    pub fn write_changed_known_hosts(&self, path: &Path) {
        let impostor = type_and_key(&read(&self.dir().join("impostor_host_ed25519.pub")));
        fs::write(path, format!("[127.0.0.1]:{} {impostor}\n", self.port)).expect("write known_hosts");
    }

    /// Every invocation of the stand-in `ollama`, one line of arguments each (empty if never run).
    pub fn argv_log(&self) -> String {
        fs::read_to_string(self.dir().join("ollama-argv.log")).unwrap_or_default()
    }

    /// The PID of the last stand-in `ollama` started, if any.
    pub fn ollama_pid(&self) -> Option<u32> {
        fs::read_to_string(self.dir().join("ollama.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir().join("sshd.log")).unwrap_or_default()
    }

    /// How many TCP connections sshd has accepted (`Connection from` lines, LogLevel VERBOSE).
    pub fn connections(&self) -> usize {
        self.log().lines().filter(|l| l.contains("Connection from")).count()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key's `SHA256:…` fingerprint according to `ssh-keygen -l` (public or private key file).
pub fn fingerprint_of(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(key)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen: {e}; {INSTALL}"));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected ssh-keygen -l output: {text:?}"))
        .to_string()
}

/// A real `ssh-agent` on a socket of its own holding the given keys (in order); killed on drop.
/// Nothing global changes: `SSH_AUTH_SOCK` is set only for the `ssh-add` children.
pub struct Agent {
    socket: PathBuf,
    child: Child,
}

impl Agent {
    /// Starts `ssh-agent -D -a DIR/agent.sock` and adds `keys` with `ssh-add`.
    pub fn start(dir: &Path, keys: &[PathBuf]) -> Agent {
        let socket = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run ssh-agent: {e}; {INSTALL}"));
        let agent = Agent { socket, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create {}",
                agent.socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        for key in keys {
            let out = Command::new("ssh-add")
                .arg(key)
                .env("SSH_AUTH_SOCK", &agent.socket)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run ssh-add: {e}; {INSTALL}"));
            assert!(
                out.status.success(),
                "ssh-add {}: {}",
                key.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        agent
    }

    /// The agent's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True while `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Format: `pid (comm) S …`; comm may contain spaces, so read after the last ')'.
        Ok(stat) => {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// Waits for "Server listening on" in the log (without connecting, so connection counts stay
/// exact); `Err(log)` if sshd exits or is not listening within 10 s.
fn wait_listening(child: &mut Child, log_path: &Path, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = format!("Server listening on 127.0.0.1 port {port}");
    loop {
        let log = fs::read_to_string(log_path).unwrap_or_default();
        if log.contains(&ready) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("(sshd exited: {status})\n{log}"));
        }
        if Instant::now() > deadline {
            return Err(format!("(not listening after 10 s)\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "farmhand-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen: {e}; {INSTALL}"));
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn write_config(dir: &Path, port: u16) -> PathBuf {
    let d = dir.display();
    let config = format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         PidFile {d}/sshd.pid\n\
         StrictModes no\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         PrintMotd no\n\
         LogLevel VERBOSE\n\
         SetEnv PATH={d}/bin:/usr/bin:/bin\n"
    );
    let path = dir.join("sshd_config");
    fs::write(&path, config).expect("write sshd_config");
    path
}

fn write_stand_in(dir: &Path) {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("create bin dir");
    let script = STAND_IN.replace("@DIR@", &dir.display().to_string());
    let path = bin.join("ollama");
    fs::write(&path, script).expect("write stand-in ollama");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod stand-in ollama");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn whoami() -> String {
    let out = Command::new("whoami").output().expect("run whoami");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `ssh-ed25519 AAAA… comment` → `ssh-ed25519 AAAA…`.
fn type_and_key(public: &str) -> String {
    public.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The stand-in `ollama`: `@DIR@` is replaced with the sshd's temp dir.
const STAND_IN: &str = r#"#!/bin/sh
# Stand-in for the ollama CLI (farmhand tests): logs argv, records its PID, and draws
# `ollama pull` progress like the real CLI: redraw frames with ANSI escapes, on stderr.
echo "$*" >> '@DIR@/ollama-argv.log'
echo $$ > '@DIR@/ollama.pid'
exec 1>&2
POS=0
frame() {
  printf '\033[?2026h\033[?25l'
  i=1
  while [ "$i" -lt "$POS" ]; do printf '\033[A'; i=$((i + 1)); done
  printf '\033[1G'
  n=0
  for line in "$@"; do
    if [ "$n" -gt 0 ]; then printf '\n'; fi
    printf '%s\033[K' "$line"
    n=$((n + 1))
  done
  POS=$#
  printf '\033[?25h\033[?2026l'
}
M='pulling manifest'
A='pulling 8eeb52dfb3bb:'
B='pulling 62fbfd9ed093:'
A_DONE="$A 100% ▕████████████████████▏ 4.7 GB                         "
B_DONE="$B 100% ▕████████████████████▏  182 B                         "
if [ "$1" != pull ]; then echo "Error: unknown command \"$1\" for \"ollama\""; exit 1; fi
case "$2" in
missing:latest)
  frame "$M ⠋"; sleep 0.1
  frame "$M ⠙"; sleep 0.1
  frame "$M"; printf '\n'
  echo 'Error: pull model manifest: file does not exist'
  exit 1
  ;;
slow:latest)
  frame "$M ⠋"; sleep 0.1
  p=1
  while [ "$p" -le 300 ]; do
    pct=$((p / 3))
    frame "$M" "$A  $pct% ▕█                   ▏ $((pct * 47)) MB/4.7 GB   10 MB/s   9m59s"
    sleep 0.2
    p=$((p + 1))
  done
  exit 0
  ;;
esac
frame "$M ⠋"; sleep 0.1
frame "$M ⠙"; sleep 0.1
frame "$M" "$A  10% ▕██                  ▏ 470 MB/4.7 GB   47 MB/s   1m30s"; sleep 0.15
frame "$M" "$A  42% ▕████████            ▏ 2.0 GB/4.7 GB   60 MB/s     45s"; sleep 0.15
frame "$M" "$A  80% ▕████████████████    ▏ 3.8 GB/4.7 GB   70 MB/s     13s"; sleep 0.15
frame "$M" "$A_DONE"; sleep 0.1
frame "$M" "$A_DONE" "$B  50% ▕██████████          ▏   91 B/182 B"; sleep 0.1
frame "$M" "$A_DONE" "$B_DONE"; sleep 0.1
frame "$M" "$A_DONE" "$B_DONE" "verifying sha256 digest ⠋"; sleep 0.15
frame "$M" "$A_DONE" "$B_DONE" "verifying sha256 digest" "writing manifest ⠋"; sleep 0.1
frame "$M" "$A_DONE" "$B_DONE" "verifying sha256 digest" "writing manifest" "success ⠋"; sleep 0.1
frame "$M" "$A_DONE" "$B_DONE" "verifying sha256 digest" "writing manifest" "success"; printf '\n'
exit 0
"#;
