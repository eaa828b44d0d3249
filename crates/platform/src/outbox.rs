//! The transactional outbox: a service's domain events, written in the same transaction as the
//! state change they describe, so an event exists exactly when its change does.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::telemetry;

/// Appends events to `<schema>.outbox`.
#[derive(Clone)]
pub struct Outbox {
    insert: Arc<str>,
    announce: Arc<str>,
}

impl Outbox {
    /// The outbox of `schema`.
    pub fn new(schema: &str) -> Self {
        Outbox {
            insert: format!(
                "INSERT INTO {schema}.outbox (event_id, event_type, aggregate_id, payload, occurred_at, traceparent)
                 VALUES ($1, $2, $3, $4, $5, $6)"
            )
            .into(),
            announce: format!("SELECT pg_notify('{schema}_outbox', '')").into(),
        }
    }

    /// Wakes the service's sequencers at commit, for events written outside a `Change` (a
    /// feed subscriber's handler): a NOTIFY here costs one per applied batch, not per write.
    pub async fn announce(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.announce)))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Writes `event` about `aggregate_id` in `conn`'s transaction. The event type is the message's full
    /// protobuf name; the current trace context travels with it.
    pub async fn append<E: prost::Name>(
        &self,
        conn: &mut PgConnection,
        aggregate_id: Uuid,
        occurred_at: DateTime<Utc>,
        event: &E,
    ) -> Result<Uuid, sqlx::Error> {
        let event_id = Uuid::now_v7();
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.insert)))
            .bind(event_id)
            .bind(E::full_name())
            .bind(aggregate_id)
            .bind(event.encode_to_vec())
            .bind(occurred_at)
            .bind(telemetry::current_traceparent())
            .execute(&mut *conn)
            .await?;
        metrics::counter!("outbox_events_written_total", "event_type" => E::full_name())
            .increment(1);
        Ok(event_id)
    }
}
