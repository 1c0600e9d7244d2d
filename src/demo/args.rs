//! The options of `farmhand demo`.

use std::path::PathBuf;

use clap::Args;

/// Options of `farmhand demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Run without the console and print a summary at the end.
    #[arg(long)]
    pub headless: bool,
    /// How long a headless run lasts.
    #[arg(long, default_value_t = 30, requires = "headless", value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub seconds: u64,
    /// Colour theme of the console: dark, light, high-contrast, or a user theme.
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Folder for log files.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Write the demo farm's fleet.toml here (its nodes and store), so `farmhand node …`,
    /// `policy …` and a second console can act on the running demo with `--config FILE`.
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
}
