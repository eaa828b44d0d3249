//! The `fallwerk-load` binary: runs the load the flags describe and prints its report
//! (`--json` for machines). Exit codes: 0 ran, 1 could not set up, 2 bad usage.

use std::process::ExitCode;

use clap::Parser;
use fallwerk_load::{Config, LoadError, run};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    match run(&config).await {
        Ok(report) => {
            if let Some(path) = &config.plot
                && let Err(e) = std::fs::write(path, fallwerk_load::plot::svg(&report))
            {
                eprintln!("fallwerk-load: --plot {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            if config.json {
                println!("{}", report.json());
            } else {
                print!("{}", report.table());
            }
            ExitCode::SUCCESS
        }
        Err(LoadError::Config(problem)) => {
            eprintln!("fallwerk-load: {problem}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("fallwerk-load: {e}");
            ExitCode::FAILURE
        }
    }
}
