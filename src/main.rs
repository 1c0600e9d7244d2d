//! The `farmhand` binary: parses the command line and hands over to a role in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = farmhand::cli::Cli::parse();
    match farmhand::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("farmhand: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
