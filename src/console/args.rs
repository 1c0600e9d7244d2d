//! The options of `farmhand console`.

use std::path::PathBuf;

use clap::Args;

/// Options of `farmhand console`.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    /// Change nothing: the console's actions are not available.
    #[arg(long)]
    pub read_only: bool,
    /// Colour theme: dark, light, high-contrast, or a file NAME.toml in the user theme folder.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Folder for log files while the console owns the terminal.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
}
