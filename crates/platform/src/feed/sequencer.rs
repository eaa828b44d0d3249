//! Feed positions in commit order.
//!
//! A plain `bigserial` is taken when a row is inserted, not when it commits: a transaction
//! holding 11 can commit after one holding 12 was read, and a reader "after 12" never sees
//! 11. Here positions are stamped only on rows already committed, by one stamping transaction
//! at a time (an advisory lock serializes replicas), each numbering after the highest position
//! so far. Why that is correct:
//! - a stamping transaction sees only committed rows, so every stamped row exists for good;
//! - stamping transactions run one after another and each starts after the previous committed,
//!   so later stamps are higher and become visible later; a reader that saw position N has seen
//!   every stamp below N, because all of them committed in the same or an earlier transaction;
//! - a row that commits late is simply stamped by a later run, above everything stamped so far.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::notify::{FeedSignals, sleep_or_shutdown};

/// Stamps positions for one schema's outbox.
#[derive(Clone)]
pub struct Sequencer {
    pool: PgPool,
    schema: &'static str,
    stamp: Arc<str>,
}

/// Rows stamped per transaction; a larger backlog is stamped in several.
const BATCH: i64 = 1000;

impl Sequencer {
    /// The sequencer of `schema`'s outbox.
    pub fn new(pool: PgPool, schema: &'static str) -> Self {
        let stamp = format!(
            "WITH batch AS (
                 SELECT seq FROM {schema}.outbox WHERE position IS NULL ORDER BY seq LIMIT $1
             ), head AS (
                 -- Past every position ever given, pruned ones included.
                 SELECT greatest(
                     (SELECT coalesce(max(position), 0) FROM {schema}.outbox),
                     (SELECT through_position FROM {schema}.feed_pruned)) AS position
             ), numbered AS (
                 SELECT b.seq, h.position + row_number() OVER (ORDER BY b.seq) AS position
                 FROM batch b CROSS JOIN head h
             )
             UPDATE {schema}.outbox o SET position = n.position
             FROM numbered n WHERE o.seq = n.seq
             RETURNING o.position"
        )
        .into();
        Sequencer {
            pool,
            schema,
            stamp,
        }
    }

    /// Stamps up to one batch of what is committed and unstamped; returns how many rows.
    pub async fn stamp_once(&self) -> Result<usize, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("fallwerk.sequencer.{}", self.schema))
            .execute(&mut *tx)
            .await?;
        let stamped: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&self.stamp)))
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
        let head = stamped.iter().copied().max();
        if let Some(head) = head {
            // Delivered at commit, to every replica's feed streams.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(format!("{}_feed", self.schema))
                .bind(head.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        if let Some(head) = head {
            metrics::gauge!("feed_head_position", "schema" => self.schema).set(head as f64);
            metrics::counter!("feed_events_stamped_total", "schema" => self.schema)
                .increment(stamped.len() as u64);
        }
        Ok(stamped.len())
    }

    /// Stamps whenever events commit (and every second, in case a notification was missed),
    /// until shutdown.
    pub async fn run(self, signals: FeedSignals, shutdown: CancellationToken) {
        loop {
            match self.stamp_once().await {
                // A full batch: more may be waiting.
                Ok(n) if n as i64 == BATCH => {
                    signals.wake_streams();
                    continue;
                }
                // This process's streams and waiting writers learn at once; other replicas
                // from the NOTIFY.
                Ok(n) if n > 0 => signals.wake_streams(),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, schema = self.schema, "sequencer failed; retrying");
                    if sleep_or_shutdown(Duration::from_millis(500), &shutdown).await {
                        return;
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = signals.committed.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
