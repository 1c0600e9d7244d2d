//! A fresh PostgreSQL database for each test.
//!
//! With `DATABASE_URL` set (a role allowed to `CREATE DATABASE`), each test gets its own
//! `farmhand_t_<pid>_<random>` database on that server, dropped when the [`TestDatabase`] is
//! dropped (also when the test panics). Without it, one throwaway cluster is started per test
//! binary from the installed server binaries (`initdb`, `pg_ctl` on `PATH` or in
//! `/usr/lib/postgresql/*/bin`) on a free loopback port, and a watchdog stops and deletes it once
//! the test process is gone. Nothing is ever skipped: with neither, tests fail saying what to do.
//!
//! Self-contained so benches can include it with `#[path = "../tests/support/pg.rs"] mod pg;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::{Connection, PgConnection};

/// Prefix of every database the harness creates.
const PREFIX: &str = "farmhand_t_";

/// A database of its own for one test; dropped with this value.
pub struct TestDatabase {
    url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates an empty database on the test server.
    pub async fn create() -> TestDatabase {
        let admin_url = admin_url().to_string();
        let name = format!("{PREFIX}{}_{:016x}", std::process::id(), rand::random::<u64>());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test server {}: {e}", redact(&admin_url)));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e} (the role needs CREATEDB)"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("the admin URL parsed before");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            name,
            admin_url,
        }
    }

    /// The URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime (async tests), so the cleanup gets a thread and runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match runtime {
                Ok(runtime) => runtime.block_on(drop_database(&admin_url, &name)),
                Err(e) => Err(e.to_string()),
            }
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("warning: test database {} was not dropped: {e}", self.name);
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let mut admin = PgConnection::connect(admin_url).await.map_err(|e| e.to_string())?;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .execute(&mut admin)
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\"")))
        .execute(&mut admin)
        .await
        .map_err(|e| e.to_string())?;
    let _ = admin.close().await;
    Ok(())
}

/// The server's admin URL: `DATABASE_URL`, or the throwaway cluster, started on first use.
pub fn admin_url() -> &'static str {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    let server = SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            sweep_leftovers(&url);
            Ok(url)
        }
        _ => start_cluster(),
    });
    match server {
        Ok(url) => url,
        Err(reason) => panic!(
            "PostgreSQL tests need a server, and none could be started: {reason}\n\
             Either set DATABASE_URL=postgres://USER@HOST/DB (a role allowed to CREATE DATABASE), \
             or install the PostgreSQL server binaries (apt-get install postgresql) so a throwaway \
             cluster can be started."
        ),
    }
}

/// Whether the harness is using a throwaway cluster rather than `DATABASE_URL`.
pub fn is_throwaway_cluster() -> bool {
    std::env::var("DATABASE_URL")
        .map(|u| u.trim().is_empty())
        .unwrap_or(true)
}

/// The URL with any password hidden, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "(unparseable URL)".into(),
    }
}

/// Drops databases left by test processes on this machine that died without cleaning up.
/// Only for a loopback server, where every test process using it runs here.
fn sweep_leftovers(admin_url: &str) {
    let Ok(parsed) = url::Url::parse(admin_url) else { return };
    if !matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1")) {
        return;
    }
    let admin_url = admin_url.to_string();
    let sweep = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let mut admin = PgConnection::connect(&admin_url).await.ok()?;
            let names: Vec<String> =
                sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'farmhand\\_t\\_%'")
                    .fetch_all(&mut admin)
                    .await
                    .ok()?;
            let _ = admin.close().await;
            for name in names {
                let pid = name
                    .strip_prefix(PREFIX)
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                    let _ = drop_database(&admin_url, &name).await;
                }
            }
            Some(())
        })
    });
    let _ = sweep.join();
}

/// Starts a cluster in a temp dir on a free loopback port; returns its admin URL.
fn start_cluster() -> Result<String, String> {
    let bin = server_bin_dir()
        .ok_or("DATABASE_URL is not set and no initdb/pg_ctl was found on PATH or in /usr/lib/postgresql/*/bin")?;
    let user = if is_root() { Some(unprivileged_user()?) } else { None };
    let dir = tempfile::Builder::new()
        .prefix("farmhand-pg-")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir: {e}"))?
        .keep();
    if let Some(user) = &user {
        run(Command::new("chown").arg("-R").arg(user).arg(&dir), "chown")?;
    }
    let data = dir.join("data");
    let log = dir.join("postgres.log");
    let as_user = |program: &Path| -> Command {
        match &user {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    };
    run(
        as_user(&bin.join("initdb")).arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]),
        "initdb",
    )?;
    let port = free_port()?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let started = run(
        as_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(&options)
            .arg("start"),
        "pg_ctl start",
    );
    if let Err(e) = started {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "{e}; server log: {}",
            log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ));
    }
    spawn_watchdog(&bin, user.as_deref(), &dir, &data)?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// A detached shell that stops the cluster and deletes its directory once this process exits.
fn spawn_watchdog(bin: &Path, user: Option<&str>, dir: &Path, data: &Path) -> Result<(), String> {
    let pg_ctl = bin.join("pg_ctl");
    let stop = match user {
        Some(user) => format!(
            "runuser -u {user} -- '{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            data.display()
        ),
        None => format!("'{}' -D '{}' -m immediate stop", pg_ctl.display(), data.display()),
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop}; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| format!("cannot start the cluster watchdog: {e}"))
}

/// Runs a command to completion, with its output kept for the error message.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The directory holding `initdb` and `pg_ctl`: on PATH, else the newest /usr/lib/postgresql/N/bin.
fn server_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_tools(dir));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| has_tools(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// initdb refuses to run as root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The account the cluster runs as when the tests run as root.
fn unprivileged_user() -> Result<String, String> {
    ["postgres", "nobody"]
        .into_iter()
        .find(|user| {
            Command::new("id")
                .arg("-u")
                .arg(user)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_string)
        .ok_or_else(|| "running as root and neither a `postgres` nor a `nobody` user exists to run initdb".into())
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free loopback port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
