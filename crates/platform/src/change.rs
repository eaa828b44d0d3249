//! One state change of a service: a transaction in which the change, its domain events, its
//! audit records and (for an idempotent create) its stored answer are written together, so
//! each exists exactly when the others do. Reads of personal data go through [`Read`], which
//! writes their audit record.
//!
//! ```text
//! let key = request_key(&mut v, caller, &request.request_id, &request);
//! ...parse the rest, v.finish(...)?...
//! self.changes.create(key, async |change| {
//!     store::visits::insert(change.conn(), ...).await?;
//!     change.event(visit_id, now, &pb::VisitRegistered { .. }).await?;
//!     change.audit(caller, "visit", &[visit_id]).await?;
//!     Ok(answer)        // a retry with the same request id gets this answer, nothing written
//! }).await
//! ```

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, Transaction, pool::PoolConnection};
use uuid::Uuid;

use crate::{
    ApiError,
    audit::AuditLog,
    auth::Caller,
    feed::notify::FeedSignals,
    idempotency::{Idempotency, RequestKey},
    outbox::Outbox,
};

/// Makes changes and audited reads in one service schema.
#[derive(Clone)]
pub struct Changes {
    pool: PgPool,
    outbox: Outbox,
    audit: AuditLog,
    idempotency: Idempotency,
    /// Wakes this process's feed sequencer after a commit that wrote events (in-process, so
    /// the write path never sends a NOTIFY, which serializes all commits of the database), and
    /// tells when positions were stamped.
    signals: FeedSignals,
    /// `SELECT position FROM <schema>.outbox WHERE event_id = $1`.
    position_of: Arc<str>,
}

/// A change under way, handed to the body of [`Changes::create`] or [`Changes::update`];
/// when the body fails, nothing is written.
pub struct Change {
    tx: Transaction<'static, Postgres>,
    changes: Changes,
    wrote_events: bool,
}

/// An audited read: a pooled connection whose reads of personal data are written to the
/// audit log before they are answered.
pub struct Read {
    conn: PoolConnection<Postgres>,
    audit: AuditLog,
}

impl Changes {
    /// Changes in `schema` on `pool`; `signals.committed` is notified after each commit that
    /// wrote events.
    pub fn new(pool: PgPool, schema: &str, signals: FeedSignals) -> Self {
        Changes {
            pool,
            outbox: Outbox::new(schema),
            audit: AuditLog::new(schema),
            idempotency: Idempotency::new(schema),
            signals,
            position_of: format!("SELECT position FROM {schema}.outbox WHERE event_id = $1").into(),
        }
    }

    /// The feed position of committed event `event_id` once the sequencer has stamped it
    /// (normally within milliseconds of the commit), or `None` after `limit`. Lets a caller
    /// hand its reader a position to wait for (read-your-writes across services).
    pub async fn feed_position(
        &self,
        event_id: Uuid,
        limit: Duration,
    ) -> Result<Option<i64>, ApiError> {
        let mut stamped = self.signals.stamped.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let position: Option<Option<i64>> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&self.position_of)))
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(Some(position)) = position {
                return Ok(Some(position));
            }
            match tokio::time::timeout_at(deadline, stamped.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out, or the sequencer is gone (shutting down).
                _ => return Ok(None),
            }
        }
    }

    /// An idempotent create (AIP-155): with a request key already answered, the first answer
    /// and nothing written; otherwise runs `body` and commits its answer with its writes.
    pub async fn create<R, F>(&self, key: Option<RequestKey>, body: F) -> Result<R, ApiError>
    where
        R: Message + Default,
        F: AsyncFnOnce(&mut Change) -> Result<R, ApiError>,
    {
        let mut change = self.begin().await?;
        if let Some(answer) = self
            .idempotency
            .replay(&mut change.tx, key.as_ref())
            .await?
        {
            return Ok(answer);
        }
        let answer = body(&mut change).await?;
        self.idempotency
            .save(&mut change.tx, key.as_ref(), &answer)
            .await?;
        change.commit().await?;
        Ok(answer)
    }

    /// The answer already given to `key`, read without a transaction (see
    /// `Idempotency::answered`); `create` checks again inside its own.
    pub async fn answered<R: Message + Default>(
        &self,
        key: Option<&RequestKey>,
    ) -> Result<Option<R>, ApiError> {
        let mut conn = self.pool.acquire().await?;
        self.idempotency.answered(&mut conn, key).await
    }

    /// Changes as the sequencer stamps feed positions (for streams that follow the outbox).
    pub fn stamped(&self) -> tokio::sync::watch::Receiver<u64> {
        self.signals.stamped.subscribe()
    }

    /// A change that is not a create (updates carry an etag instead of a request id): runs
    /// `body` and commits.
    pub async fn update<R, F>(&self, body: F) -> Result<R, ApiError>
    where
        F: AsyncFnOnce(&mut Change) -> Result<R, ApiError>,
    {
        let mut change = self.begin().await?;
        let answer = body(&mut change).await?;
        change.commit().await?;
        Ok(answer)
    }

    /// Starts an audited read.
    pub async fn read(&self) -> Result<Read, ApiError> {
        Ok(Read {
            conn: self.pool.acquire().await?,
            audit: self.audit.clone(),
        })
    }

    async fn begin(&self) -> Result<Change, ApiError> {
        Ok(Change {
            tx: self.pool.begin().await?,
            changes: self.clone(),
            wrote_events: false,
        })
    }
}

impl Change {
    /// The transaction's connection, for the service's own statements.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Appends a domain event about `aggregate`; its event id.
    pub async fn event<E: prost::Name>(
        &mut self,
        aggregate: impl Into<Uuid>,
        at: DateTime<Utc>,
        event: &E,
    ) -> Result<Uuid, ApiError> {
        let id = self
            .changes
            .outbox
            .append(&mut self.tx, aggregate.into(), at, event)
            .await?;
        self.wrote_events = true;
        Ok(id)
    }

    /// Records that `caller` wrote personal data: `ids` of `resource_type`.
    pub async fn audit(
        &mut self,
        caller: &Caller,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        self.changes
            .audit
            .record(&mut *self.tx, caller, resource_type, ids)
            .await
    }

    async fn commit(self) -> Result<(), ApiError> {
        self.tx.commit().await?;
        if self.wrote_events {
            self.changes.signals.committed.notify_one();
        }
        Ok(())
    }
}

impl Read {
    /// The connection, for the service's own queries.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Records that `caller` read `ids` of `resource_type`; call it before answering.
    pub async fn audit(
        &mut self,
        caller: &Caller,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        self.audit
            .record(&mut *self.conn, caller, resource_type, ids)
            .await
    }
}
