//! The `intake` binary: `intake serve [--migrate]` or `intake migrate`.

use std::{process::ExitCode, sync::Arc};

use clap::Parser;
use fallwerk_intake::{Cli, Command, DEFAULT_METRICS_LISTEN, RunError};
use fallwerk_platform::{clock::SystemClock, config::MetricsListen, shutdown, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = telemetry::init("intake", &cli.telemetry);
    let result = match &cli.command {
        Command::Migrate => fallwerk_intake::migrate(&cli.database)
            .await
            .map(|applied| {
                tracing::info!(applied, "migrations done");
            }),
        Command::Serve(args) => {
            let default_metrics =
                MetricsListen::Addr(DEFAULT_METRICS_LISTEN.parse().expect("valid default"));
            telemetry::init_metrics(cli.telemetry.metrics_listen.unwrap_or(default_metrics));
            match fallwerk_intake::bind(args.listen).await {
                Ok(listener) => {
                    fallwerk_intake::run(
                        listener,
                        &cli.database,
                        args,
                        Arc::new(SystemClock),
                        shutdown::on_signal(),
                    )
                    .await
                }
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Config(e)) => e.exit(),
        Err(e) => {
            tracing::error!(error = %e, "intake stopped");
            ExitCode::FAILURE
        }
    }
}
