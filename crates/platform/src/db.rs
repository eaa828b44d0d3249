//! The PostgreSQL pool and the watch that keeps a service's readiness in step with it.

use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio_util::sync::CancellationToken;
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    config::{ConfigError, DatabaseArgs},
    migrate::Migrator,
};

/// Builds the pool without connecting: a service starts (and reports NOT_SERVING) while the
/// database is still coming up, instead of crash-looping.
pub fn pool(args: &DatabaseArgs, application_name: &str) -> Result<PgPool, ConfigError> {
    let options = PgConnectOptions::from_str(&args.url()?)
        .map_err(|e| ConfigError {
            setting: if args.database_url.is_some() {
                "DATABASE_URL"
            } else {
                "DATABASE_URL_FILE"
            },
            problem: e.to_string(),
        })?
        .application_name(application_name);
    Ok(PgPoolOptions::new()
        .max_connections(args.db_max_connections)
        .acquire_timeout(Duration::from_secs(args.db_acquire_timeout_secs))
        // A ping on every acquire costs about a fifth of a small RPC's throughput; broken
        // connections surface as errors and are replaced instead.
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options))
}

/// Whether the database failed its last health check. The health watcher sets it; handlers'
/// connections ([`crate::change::Changes`]) then wait only briefly for the pool instead of its
/// full acquire timeout, so calls are answered UNAVAILABLE at once while the database is away.
#[derive(Debug, Clone, Default)]
pub struct Reachability(Arc<AtomicBool>);

impl Reachability {
    /// The last check found the database away.
    pub fn is_down(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Sets the health status of `services` (and the server as a whole, `""`) from the database:
/// SERVING only while PostgreSQL answers and the service's migrations are all applied.
/// Also publishes the pool figures as metrics, and `reachability`. Ends on shutdown.
pub async fn watch_health(
    pool: PgPool,
    migrator: Migrator,
    reporter: HealthReporter,
    services: Vec<&'static str>,
    reachability: Reachability,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut last = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let check = tokio::time::timeout(Duration::from_secs(2), migrator.is_current(&pool)).await;
        reachability
            .0
            .store(!matches!(check, Ok(Ok(_))), Ordering::Relaxed);
        let ready = match check {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err("migrations pending".to_owned()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("database did not answer within 2s".to_owned()),
        };
        let status = if ready.is_ok() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        // What the readiness probe sees, for alerts outside Kubernetes too.
        metrics::gauge!("grpc_health_serving").set(if ready.is_ok() { 1.0 } else { 0.0 });
        if last != Some(status) {
            match &ready {
                Ok(()) => tracing::info!("database ready: SERVING"),
                Err(why) => tracing::warn!(%why, "database not ready: NOT_SERVING"),
            }
            set_health(&reporter, &services, status).await;
            last = Some(status);
        }
        record_pool_metrics(&pool);
    }
}

/// Sets the status of each of `services` and of the server as a whole (`""`).
pub async fn set_health(
    reporter: &HealthReporter,
    services: &[&'static str],
    status: ServingStatus,
) {
    for service in services.iter().copied().chain([""]) {
        reporter.set_service_status(service, status).await;
    }
}

fn record_pool_metrics(pool: &PgPool) {
    let size = pool.size() as f64;
    let idle = pool.num_idle() as f64;
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle);
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("db_pool_max_connections").set(pool.options().get_max_connections() as f64);
}

/// `text` escaped for use as a literal prefix in `LIKE $1 || '%'` (PostgreSQL's default
/// escape character is the backslash).
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
