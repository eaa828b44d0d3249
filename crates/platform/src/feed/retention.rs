//! How long a feed keeps its events: for the retention (`FEED_RETENTION_DAYS`) and at least
//! until every subscriber that acknowledged within it has applied them. A subscriber silent for
//! longer is not waited for: it finds its position pruned (`FEED_POSITION_PRUNED`) and rebuilds
//! from the owning service's API. Every service prunes its own outbox once an hour.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::ApiError;

/// How often the outbox is pruned.
const EVERY: Duration = Duration::from_secs(3600);

/// The last pruned position of `schema`'s feed (0: nothing pruned).
pub async fn pruned_through(conn: &mut PgConnection, schema: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT through_position FROM {schema}.feed_pruned"
    )))
    .fetch_one(conn)
    .await
}

/// FAILED_PRECONDITION `FEED_POSITION_PRUNED` when `after` lies below what was pruned.
pub async fn check_not_pruned(
    conn: &mut PgConnection,
    schema: &str,
    after: i64,
) -> Result<(), ApiError> {
    let pruned = pruned_through(conn, schema).await?;
    if after < pruned {
        return Err(ApiError::FailedPrecondition {
            reason: fallwerk_proto::feed::ErrorReason::FeedPositionPruned.into(),
            message: format!(
                "events up to position {pruned} were pruned; rebuild from the service's API and \
                 resume from the head"
            ),
            metadata: HashMap::from([("earliest_position".to_owned(), (pruned + 1).to_string())]),
        });
    }
    Ok(())
}

/// Records that `subscriber` has applied everything up to `position` (never moving back).
pub async fn acknowledge(
    pool: &PgPool,
    schema: &str,
    subscriber: &str,
    position: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {schema}.feed_subscribers (subscriber, position, acknowledged_at)
         VALUES ($1, $2, now())
         ON CONFLICT (subscriber) DO UPDATE
         SET position = greatest({schema}.feed_subscribers.position, $2), acknowledged_at = now()"
    )))
    .bind(subscriber)
    .bind(position)
    .execute(pool)
    .await?;
    Ok(())
}

/// Prunes the events that occurred before `events_before` and that every subscriber heard
/// from since `heard_since` has applied; returns how many went.
pub async fn prune_once(
    pool: &PgPool,
    schema: &str,
    events_before: DateTime<Utc>,
    heard_since: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("fallwerk.feed_prune.{schema}"))
        .execute(&mut *tx)
        .await?;
    // The newest old event, not beyond the slowest subscriber heard from within the retention.
    let (oldest, slowest): (Option<i64>, Option<i64>) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT max(position) FROM {schema}.outbox WHERE occurred_at < $1),
                (SELECT min(position) FROM {schema}.feed_subscribers WHERE acknowledged_at >= $2)"
        )))
        .bind(events_before)
        .bind(heard_since)
        .fetch_one(&mut *tx)
        .await?;
    let through = match (oldest, slowest) {
        (None, _) => return Ok(0),
        (Some(old), None) => old,
        (Some(old), Some(slowest)) => old.min(slowest),
    };
    let pruned = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {schema}.outbox WHERE position <= $1"
    )))
    .bind(through)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {schema}.feed_pruned SET through_position = greatest(through_position, $1)"
    )))
    .bind(through)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    metrics::counter!("feed_events_pruned_total", "schema" => schema.to_owned()).increment(pruned);
    Ok(pruned)
}

/// Prunes `schema`'s outbox once an hour until shutdown.
pub async fn run(
    pool: PgPool,
    schema: &'static str,
    retention: chrono::Duration,
    shutdown: CancellationToken,
) {
    loop {
        let horizon = Utc::now() - retention;
        match prune_once(&pool, schema, horizon, horizon).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(schema, pruned, "feed events pruned"),
            Err(error) => tracing::warn!(%error, schema, "pruning the feed failed; next hour"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
    }
}
