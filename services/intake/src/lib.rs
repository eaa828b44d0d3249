//! intake: the office's front. Applicants, visits, access checks, first consultations, the
//! roster of teams and advisors, and the opening of cases with a responsible advisor.
//!
//! Layers: [`api`] translates and validates gRPC requests, [`domain`] holds the rules,
//! [`store`] the SQL. [`authz`] says who may call what.

pub mod api;
pub mod authz;
pub mod convert;
pub mod domain;
pub mod store;

use std::{net::SocketAddr, sync::Arc};

use fallwerk_platform::{
    auth::Authenticator,
    clock::Clock,
    config::{AuthArgs, ConfigError, DatabaseArgs, ServerArgs, TelemetryArgs},
    db,
    migrate::{Migration, Migrator},
    server::{self, ServeError},
};
use fallwerk_proto::intake::intake_service_server::IntakeServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The schema intake owns.
pub const SCHEMA: &str = "intake";

/// intake's migrations, in order.
pub const MIGRATOR: Migrator = Migrator::new(
    SCHEMA,
    &[Migration {
        id: "0001_intake",
        sql: include_str!("../migrations/0001_intake.sql"),
    }],
);

/// The `intake` command line.
#[derive(clap::Parser, Debug)]
#[command(name = "intake", version, about = "fallwerk intake service")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Database settings.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Log settings.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// intake's subcommands.
#[derive(clap::Subcommand, Debug)]
// Parsed once at start; boxing the serve settings would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve gRPC.
    Serve(ServeArgs),
    /// Apply pending migrations and exit (a Kubernetes Job or init container).
    Migrate,
}

/// Settings of `intake serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// gRPC listen address.
    #[arg(long, env = "GRPC_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Apply pending migrations before serving.
    #[arg(long, env = "MIGRATE_ON_START")]
    pub migrate: bool,
    /// Token settings.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Server behaviour.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Metrics address when `METRICS_LISTEN` is not set.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9101";

/// Why intake did not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Unusable settings (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Migrations failed.
    #[error(transparent)]
    Migrate(#[from] fallwerk_platform::migrate::MigrateError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

/// Applies intake's migrations.
pub async fn migrate(database: &DatabaseArgs) -> Result<usize, RunError> {
    let pool = db::pool(database, "intake-migrate")?;
    Ok(MIGRATOR.run(&pool).await?)
}

/// Serves intake on `listener` until `shutdown`; the entry point of `intake serve` and of
/// the tests, which pass their own listener and clock.
pub async fn run(
    listener: TcpListener,
    database: &DatabaseArgs,
    args: &ServeArgs,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), RunError> {
    let pool = db::pool(database, "intake")?;
    if args.migrate {
        MIGRATOR.run(&pool).await?;
    }
    let authenticator = Authenticator::from_args(&args.auth).await?;
    let intake = api::Intake::new(pool.clone(), clock);
    let grpc = IntakeServiceServer::new(intake)
        .max_decoding_message_size(args.server.max_message_bytes)
        .max_encoding_message_size(args.server.max_message_bytes);
    let service = server::Service {
        name: "intake",
        routes: tonic::service::Routes::new(grpc),
        policies: vec![authz::POLICY],
        migrator: MIGRATOR,
    };
    server::serve(
        listener,
        service,
        &args.server,
        authenticator,
        pool,
        shutdown,
    )
    .await?;
    Ok(())
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Bind { addr, source })
}
