//! The start-up every service shares: its command line (`<service> serve` and
//! `<service> migrate`), the process's `main`, and `run`, which tests call too. A service
//! describes itself in a [`Blueprint`]; its `main.rs` is one line.

use std::{ffi::OsString, net::SocketAddr, pin::Pin, process::ExitCode, sync::Arc};

use clap::{CommandFactory, FromArgMatches};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

use crate::{
    audit::{self, service::PersonRecords},
    auth::{AccessPolicy, Authenticator},
    change::Changes,
    clock::{Clock, SystemClock},
    config::{
        AuthArgs, ConfigError, DatabaseArgs, FeedArgs, MetricsListen, ServerArgs, TelemetryArgs,
    },
    db,
    feed::{
        Feed,
        notify::FeedSignals,
        upstream::{self, UpstreamClients, UpstreamPositions},
    },
    migrate::{MigrateError, Migrator},
    retention,
    server::{self, ServeError},
    shutdown, telemetry,
};

/// What makes a service itself; everything else is the platform's.
pub struct Blueprint {
    /// Short name (`intake`): the binary, logs, the pool's application name.
    pub name: &'static str,
    /// Default gRPC listen address (`GRPC_LISTEN`).
    pub grpc_listen: &'static str,
    /// Default metrics listen address (`METRICS_LISTEN`).
    pub metrics_listen: &'static str,
    /// The service's schema migrations.
    pub migrator: Migrator,
    /// Builds the service's gRPC services and their access rules.
    pub api: fn(Context) -> Api,
    /// The upstream event feeds the service consumes (their addresses come from `UPSTREAMS`).
    pub feeds: fn() -> Vec<Feed>,
    /// The ids of every record the service holds about a person, for the audit trail's
    /// person filter (the client's access report).
    pub person_records: PersonRecords,
    /// Runs the service's retention rules (`<service> retention run`).
    pub retention: RetentionHook,
}

/// Runs a service's retention rules: `|run| Box::pin(run.execute(MyRules))`.
pub type RetentionHook =
    fn(
        retention::Run,
    ) -> Pin<Box<dyn Future<Output = Result<retention::Report, retention::RunError>> + Send>>;

/// What a service's handlers are built with.
#[derive(Clone)]
pub struct Context {
    /// Changes and audited reads in the service's schema.
    pub changes: Changes,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Largest message in bytes, for the generated servers' limits.
    pub max_message_bytes: usize,
    /// How far this process has applied each upstream feed it consumes.
    pub upstream_positions: UpstreamPositions,
    /// Synchronous clients of the configured upstreams.
    pub upstream_clients: UpstreamClients,
    /// Cancelled when the server begins to shut down: streaming RPCs end then.
    pub shutdown: CancellationToken,
}

/// A service's gRPC services, ready to serve.
pub struct Api {
    /// The routes of its gRPC services.
    pub routes: Routes,
    /// The method rules of each of them.
    pub policies: Vec<AccessPolicy>,
}

/// A service's command line.
#[derive(clap::Parser, Debug)]
#[command(version)]
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

/// The subcommands.
#[derive(clap::Subcommand, Debug)]
// Parsed once at start; boxing the serve settings would only add noise.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve gRPC.
    Serve(ServeArgs),
    /// Apply pending migrations and exit (a Kubernetes Job or init container).
    Migrate,
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Retention of personal data.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The upstream event feeds this service follows.
    #[command(subcommand)]
    Feed(FeedCommand),
}

/// `<service> feed ...`.
#[derive(clap::Subcommand, Debug)]
pub enum FeedCommand {
    /// Applies every parked event again (after the data or the release was fixed), oldest
    /// first, and prints per feed how many applied and how many still fail; exits 1 while
    /// any still fails. Safe beside running replicas: each event applies in its own
    /// savepoint, as the subscriber applies it.
    ReplayParked,
}

/// `<service> retention ...`.
#[derive(clap::Subcommand, Debug)]
pub enum RetentionCommand {
    /// Erases the personal data whose retention period is over (periods from
    /// `RETENTION_<CLASS>`), each record with its proof of deletion; prints what it did.
    Run {
        /// Only list the records whose period is over; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `<service> audit ...`.
#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Recomputes the trail's hash chain; exits 1 and names the first broken link when it is
    /// not intact.
    Verify,
}

/// Settings of `serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// gRPC listen address.
    #[arg(long, env = "GRPC_LISTEN")]
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
    /// Upstream feeds.
    #[command(flatten)]
    pub feeds: FeedArgs,
}

/// Why a service did not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Unusable settings (exit code 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Migrations failed.
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The audit trail could not be read.
    #[error("reading the audit trail failed: {0}")]
    Audit(sqlx::Error),
    /// A retention run failed.
    #[error("retention run: {0}")]
    Retention(#[from] retention::RunError),
    /// Replaying parked events failed.
    #[error("replaying parked events: {0}")]
    Replay(sqlx::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
}

impl Blueprint {
    /// Parses a command line (the program name first) with this service's defaults.
    pub fn parse_cli<I, T>(&self, args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let command = Cli::command()
            .name(self.name)
            .bin_name(self.name)
            .about(format!("fallwerk {} service", self.name))
            .mut_subcommand("serve", |serve| {
                serve.mut_arg("listen", |listen| {
                    listen.required(false).default_value(self.grpc_listen)
                })
            });
        Cli::from_arg_matches(&command.try_get_matches_from(args)?)
    }

    /// The process: parse the command line, set up telemetry, migrate or serve until SIGTERM.
    pub fn main(&self) -> ExitCode {
        let cli = self
            .parse_cli(std::env::args_os())
            .unwrap_or_else(|e| e.exit());
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                eprintln!("{}: cannot start the async runtime: {e}", self.name);
                return ExitCode::FAILURE;
            }
        };
        runtime.block_on(self.main_with(cli))
    }

    async fn main_with(&self, cli: Cli) -> ExitCode {
        let _telemetry = telemetry::init(self.name, &cli.telemetry);
        let result = match &cli.command {
            Command::Migrate => self.migrate(&cli.database).await.map(|applied| {
                tracing::info!(applied, "migrations done");
            }),
            Command::Audit(AuditCommand::Verify) => {
                return match self.verify_audit(&cli.database).await {
                    Ok(true) => ExitCode::SUCCESS,
                    Ok(false) => ExitCode::FAILURE,
                    Err(e) => {
                        eprintln!("{}: {e}", self.name);
                        ExitCode::from(2)
                    }
                };
            }
            Command::Feed(FeedCommand::ReplayParked) => {
                return match self.replay_parked(&cli.database).await {
                    Ok(outcomes) => {
                        for (feed, applied, failing) in &outcomes {
                            println!("{feed}: {applied} applied, {failing} still failing");
                        }
                        if outcomes.iter().all(|(_, _, failing)| *failing == 0) {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::FAILURE
                        }
                    }
                    Err(RunError::Config(e)) => e.exit(),
                    Err(e) => {
                        eprintln!("{}: {e}", self.name);
                        ExitCode::from(2)
                    }
                };
            }
            Command::Retention(RetentionCommand::Run { dry_run }) => {
                let run = async {
                    let pool = db::pool(&cli.database, &format!("{}-retention", self.name))?;
                    let run = retention::Run {
                        pool,
                        schema: self.migrator.schema(),
                        now: chrono::Utc::now(),
                        dry_run: *dry_run,
                        periods: retention::Periods::FromEnvironment,
                    };
                    Ok::<_, RunError>((self.retention)(run).await?)
                };
                return match run.await {
                    Ok(report) => {
                        print_retention(&report);
                        ExitCode::SUCCESS
                    }
                    Err(RunError::Config(e)) => e.exit(),
                    Err(RunError::Retention(retention::RunError::Config(e))) => e.exit(),
                    Err(e) => {
                        eprintln!("{}: {e}", self.name);
                        ExitCode::FAILURE
                    }
                };
            }
            Command::Serve(args) => {
                let metrics =
                    cli.telemetry.metrics_listen.unwrap_or_else(|| {
                        MetricsListen::Addr(self.metrics_listen.parse().unwrap_or_else(|_| {
                            panic!("{}: bad default metrics address", self.name)
                        }))
                    });
                telemetry::init_metrics(metrics);
                match bind(args.listen).await {
                    Ok(listener) => {
                        self.run(
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
                tracing::error!(error = %e, service = self.name, "stopped");
                ExitCode::FAILURE
            }
        }
    }

    /// Applies the parked events of every feed the service follows again: per feed, how many
    /// applied and how many still fail.
    pub async fn replay_parked(
        &self,
        database: &DatabaseArgs,
    ) -> Result<Vec<(&'static str, usize, usize)>, RunError> {
        let pool = db::pool(database, &format!("{}-replay", self.name))?;
        let mut outcomes = Vec::new();
        for feed in (self.feeds)() {
            let (applied, failing) = feed
                .replay_parked(pool.clone(), self.migrator.schema())
                .await
                .map_err(RunError::Replay)?;
            tracing::info!(
                feed = feed.upstream(),
                applied,
                failing,
                "parked events replayed"
            );
            outcomes.push((feed.upstream(), applied, failing));
        }
        Ok(outcomes)
    }

    /// Verifies the audit trail's hash chain and prints what it found; whether it is intact.
    pub async fn verify_audit(&self, database: &DatabaseArgs) -> Result<bool, RunError> {
        let pool = db::pool(database, &format!("{}-audit", self.name))?;
        let found = audit::chain::verify(&pool, self.migrator.schema())
            .await
            .map_err(RunError::Audit)?;
        println!("records linked:     {}", found.chained);
        println!("not linked yet:     {}", found.unchained);
        println!("head hash:          {}", found.head_hash);
        match &found.broken {
            None => println!("intact"),
            Some((position, problem)) => println!("BROKEN at position {position}: {problem}"),
        }
        Ok(found.broken.is_none())
    }

    /// Applies the service's migrations; returns how many were pending.
    pub async fn migrate(&self, database: &DatabaseArgs) -> Result<usize, RunError> {
        let pool = db::pool(database, &format!("{}-migrate", self.name))?;
        self.migrate_on(&pool, database).await
    }

    /// Migrates on `pool` and grants `DB_RUNTIME_ROLE`, if one is set, its run-time rights.
    async fn migrate_on(&self, pool: &PgPool, database: &DatabaseArgs) -> Result<usize, RunError> {
        let applied = self.migrator.run(pool).await?;
        if let Some(role) = &database.db_runtime_role {
            self.migrator.grant_runtime(pool, role).await?;
        }
        Ok(applied)
    }

    /// Serves on `listener` until `shutdown`: the entry point of `serve` and of the tests,
    /// which pass their own listener and clock.
    pub async fn run(
        &self,
        listener: TcpListener,
        database: &DatabaseArgs,
        args: &ServeArgs,
        clock: Arc<dyn Clock>,
        shutdown: CancellationToken,
    ) -> Result<(), RunError> {
        let pool = db::pool(database, self.name)?;
        if args.migrate {
            self.migrate_on(&pool, database).await?;
        }
        let authenticator = Authenticator::from_args(&args.auth).await?;
        let signals = FeedSignals::new();
        // Subscribers stop with the server; a feed without its upstream configured stops the
        // start here, before anything is served.
        let feeds_stop = shutdown.child_token();
        let (feeds, upstream_positions) = upstream::start(
            (self.feeds)(),
            &args.feeds,
            self.migrator.schema(),
            &pool,
            &feeds_stop,
        )?;
        let database = db::Reachability::default();
        let context = Context {
            changes: Changes::new(
                pool.clone(),
                self.migrator.schema(),
                signals.clone(),
                database.clone(),
            ),
            clock,
            max_message_bytes: args.server.max_message_bytes,
            upstream_positions,
            upstream_clients: UpstreamClients::from_args(&args.feeds)?,
            shutdown: shutdown.clone(),
        };
        let api = (self.api)(context);
        let service = server::Service {
            name: self.name,
            routes: api.routes,
            policies: api.policies,
            migrator: self.migrator,
            person_records: self.person_records,
            database,
        };
        let served = server::serve(
            listener,
            service,
            &args.server,
            authenticator,
            pool,
            signals,
            shutdown,
        )
        .await;
        feeds_stop.cancel();
        for feed in feeds {
            // A subscriber ends at a transaction boundary when cancelled; a panic was logged.
            let _ = feed.await;
        }
        served?;
        Ok(())
    }
}

/// Prints a retention run's report: per class its rule and counts; in a dry run the records.
fn print_retention(report: &retention::Report) {
    let verb = if report.dry_run {
        "would erase"
    } else {
        "erased"
    };
    println!(
        "retention run {}{}",
        report.run_id,
        if report.dry_run { " (dry run)" } else { "" }
    );
    for class in &report.classes {
        let erased = if report.dry_run {
            class.due.len()
        } else {
            class.erased
        };
        println!("{}: {} due, {verb} {erased}", class.rule, class.due.len());
        if report.dry_run {
            for id in &class.due {
                println!("  {id}");
            }
        }
    }
    println!(
        "{}: {verb} {}",
        report.idempotency_rule, report.idempotency_answers
    );
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, RunError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Bind { addr, source })
}
