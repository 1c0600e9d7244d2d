//! Log setup: structured `tracing` to stderr for services, to a file while a TUI owns the terminal.

use std::path::PathBuf;

use anyhow::Context;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Where log lines go.
#[derive(Debug, Clone)]
pub enum LogTarget {
    /// Standard error (services, CLI tools).
    Stderr,
    /// A daily-rotated file in this folder (the console and demo).
    File(PathBuf),
}

/// Keeps the background log writer alive; dropping it flushes.
pub struct LogGuard {
    _writer: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Log lines the file writer's queue holds before further lines are dropped. The queue is
/// allocated whole at start-up: tracing-appender's default of 128,000 lines is 4 MB of resident
/// memory in every console, where 4,096 lines absorb any burst it logs.
const BUFFERED_LINES: usize = 4096;

/// Installs the global subscriber. `RUST_LOG` overrides the default `info,sqlx=warn`.
/// A second call (tests, a role switching targets) leaves the first subscriber in place.
pub fn init(target: LogTarget) -> anyhow::Result<LogGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn"));
    match target {
        LogTarget::Stderr => {
            let layer = fmt::layer().with_writer(std::io::stderr).with_target(false);
            let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
            Ok(LogGuard { _writer: None })
        }
        LogTarget::File(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create log folder {}", dir.display()))?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("farmhand")
                .filename_suffix("log")
                .max_log_files(7)
                .build(&dir)
                .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(BUFFERED_LINES)
                .finish(appender);
            let layer = fmt::layer().with_writer(writer).with_ansi(false);
            let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
            Ok(LogGuard { _writer: Some(guard) })
        }
    }
}
