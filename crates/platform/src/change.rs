//! One state change of a service: a transaction in which the change, its domain events, its
//! audit records and (for an idempotent create) its stored answer are written together, so
//! each exists exactly when the others do.
//!
//! ```text
//! let mut change = match self.changes.begin(&self.pool, key).await? {
//!     Began::Replayed(answer) => return Ok(answer),   // a retry: the first answer, nothing written
//!     Began::New(change) => change,
//! };
//! store::insert_visit(change.conn(), ...).await?;
//! change.event(visit_id, now, &pb::VisitRegistered { .. }).await?;
//! change.audit(caller, "RegisterVisit", "visit", &[visit_id]).await?;
//! change.commit(answer).await
//! ```

use chrono::{DateTime, Utc};
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    ApiError,
    audit::AuditLog,
    auth::Principal,
    idempotency::{Idempotency, RequestKey},
    outbox::Outbox,
};

/// Begins changes in one service schema.
#[derive(Clone)]
pub struct Changes {
    outbox: Outbox,
    audit: AuditLog,
    idempotency: Idempotency,
}

/// What [`Changes::begin`] found.
// Returned once per request and matched at once: boxing the transaction would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Began<R> {
    /// The request was answered before (same request id): here is that answer.
    Replayed(R),
    /// A change to make.
    New(Change),
}

/// A change under way; dropped without [`Change::commit`], it writes nothing.
pub struct Change {
    tx: Transaction<'static, Postgres>,
    key: Option<RequestKey>,
    changes: Changes,
}

impl Changes {
    /// Changes in `schema`.
    pub fn new(schema: &str) -> Self {
        Changes {
            outbox: Outbox::new(schema),
            audit: AuditLog::new(schema),
            idempotency: Idempotency::new(schema),
        }
    }

    /// Starts a change; with a request key, a retry gets the first answer instead.
    pub async fn begin<R: Message + Default>(
        &self,
        pool: &PgPool,
        key: Option<RequestKey>,
    ) -> Result<Began<R>, ApiError> {
        let mut tx = pool.begin().await?;
        if let Some(answer) = self.idempotency.replay(&mut tx, key.as_ref()).await? {
            return Ok(Began::Replayed(answer));
        }
        Ok(Began::New(Change {
            tx,
            key,
            changes: self.clone(),
        }))
    }

    /// Starts a change that is not an idempotent create (updates carry an etag instead).
    pub async fn begin_update(&self, pool: &PgPool) -> Result<Change, ApiError> {
        Ok(Change {
            tx: pool.begin().await?,
            key: None,
            changes: self.clone(),
        })
    }

    /// The audit log, for reads outside a change.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }
}

impl Change {
    /// The transaction's connection, for the service's own statements.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Appends a domain event about `aggregate`.
    pub async fn event<E: prost::Name>(
        &mut self,
        aggregate: Uuid,
        at: DateTime<Utc>,
        event: &E,
    ) -> Result<(), ApiError> {
        self.changes
            .outbox
            .append(&mut self.tx, aggregate, at, event)
            .await?;
        Ok(())
    }

    /// Records that `who` did `action` to personal data.
    pub async fn audit(
        &mut self,
        who: &Principal,
        action: &str,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        self.changes
            .audit
            .record(&mut *self.tx, who, action, resource_type, ids)
            .await
    }

    /// Stores the answer for retries and commits everything.
    pub async fn commit<R: Message>(mut self, answer: R) -> Result<R, ApiError> {
        self.changes
            .idempotency
            .save(&mut self.tx, self.key.as_ref(), &answer)
            .await?;
        self.tx.commit().await?;
        Ok(answer)
    }
}
