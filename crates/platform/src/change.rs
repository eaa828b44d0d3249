//! One state change of a service: a transaction in which the change, its domain events, its
//! audit records and (for an idempotent create) its stored answer are written together, so
//! each exists exactly when the others do. Reads of personal data go through [`Read`], which
//! commits their audit record (in a batch with other reads) before they are answered.
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
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    ApiError,
    audit::{AuditRows, writer::AuditWriter},
    auth::Caller,
    db::Reachability,
    feed::notify::FeedSignals,
    idempotency::{Idempotency, RequestKey},
    telemetry,
};

/// Makes changes and audited reads in one service schema.
#[derive(Clone)]
pub struct Changes {
    pool: PgPool,
    /// Writes the audit records of reads, in shared commits.
    audit: AuditWriter,
    idempotency: Idempotency,
    /// Wakes this process's feed sequencer after a commit that wrote events (in-process, so
    /// the write path never sends a NOTIFY, which serializes all commits of the database), and
    /// tells when positions were stamped.
    signals: FeedSignals,
    /// `SELECT position FROM <schema>.outbox WHERE event_id = $1`.
    position_of: Arc<str>,
    /// The statement that writes a change's [`Tail`].
    write_tail: Arc<str>,
    /// Whether the database is known to be away.
    database: Reachability,
    /// The schema, for the spans' `db.namespace`.
    schema: Arc<str>,
}

/// How long a call waits for a connection while the database is known to be away: enough for
/// a database that just came back, far less than the pool's acquire timeout.
const WAIT_WHILE_DOWN: Duration = Duration::from_millis(300);

/// A change under way, handed to the body of [`Changes::create`] or [`Changes::update`];
/// when the body fails, nothing is written.
pub struct Change {
    tx: Transaction<'static, Postgres>,
    changes: Changes,
    tail: Tail,
}

/// What a change writes besides its own rows: its events, its audit records and (for an
/// idempotent create) its answer, sent in one statement just before the commit. One round trip
/// instead of one per row (RegisterVisit's three plus the idempotency claim): on this kind of
/// machine each round trip costs the service and the database more CPU than the row it carries
/// (docs/PERFORMANCE.md).
#[derive(Default)]
struct Tail {
    event_ids: Vec<Uuid>,
    event_types: Vec<String>,
    aggregates: Vec<Uuid>,
    payloads: Vec<Vec<u8>>,
    occurred: Vec<DateTime<Utc>>,
    traceparents: Vec<String>,
    audit: AuditRows,
}

/// An audited read: a pooled connection whose reads of personal data are written to the
/// audit log before they are answered.
pub struct Read {
    conn: PoolConnection<Postgres>,
    audit: AuditWriter,
    schema: Arc<str>,
}

impl Changes {
    /// Changes in `schema` on `pool`; `signals.committed` is notified after each commit that
    /// wrote events.
    pub fn new(pool: PgPool, schema: &str, signals: FeedSignals, database: Reachability) -> Self {
        Changes {
            database,
            schema: schema.into(),
            audit: AuditWriter::start(&pool, schema),
            pool,
            idempotency: Idempotency::new(schema),
            signals,
            position_of: format!("SELECT position FROM {schema}.outbox WHERE event_id = $1").into(),
            // Data-modifying CTEs all run, whether or not the main statement reads them.
            write_tail: format!(
                "WITH events AS (
                     INSERT INTO {schema}.outbox
                         (event_id, event_type, aggregate_id, payload, occurred_at, traceparent)
                     SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bytea[],
                                          $5::timestamptz[], $6::text[])
                 ), audit AS (
                     INSERT INTO {schema}.audit_log
                         (subject, roles, action, resource_type, resource_id, trace_id)
                     {audit_rows}
                 )
                 INSERT INTO {schema}.idempotency
                     (subject, method, request_id, request_hash, response)
                 SELECT $13, $14, $15, $16, $17 WHERE $15::uuid IS NOT NULL",
                audit_rows = AuditRows::select_sql(7)
            )
            .into(),
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

    /// An idempotent create (AIP-155): runs `body` and commits its writes with its answer under
    /// the request key. A request key already answered gets the first answer, and nothing of
    /// this attempt is written: its answer row collides with the first one's at the end (the
    /// unique key waits for a concurrent first attempt to commit or roll back), the
    /// transaction rolls back, and the stored answer is read. A body that fails because its
    /// first attempt already did the work (a state moved on, a name taken) is answered the same
    /// way. Checking the key only at the end saves a round trip on every create.
    pub async fn create<R, F>(&self, key: Option<RequestKey>, body: F) -> Result<R, ApiError>
    where
        R: Message + Default,
        F: AsyncFnOnce(&mut Change) -> Result<R, ApiError>,
    {
        let mut change = self.begin().await?;
        let attempt = match body(&mut change).await {
            Ok(answer) => change
                .commit(key.as_ref().map(|k| (k, answer.encode_to_vec())))
                .await
                .map(|()| answer),
            Err(error) => {
                drop(change);
                Err(error)
            }
        };
        match attempt {
            Err(error) if key.is_some() => match self.answered(key.as_ref()).await? {
                Some(first) => {
                    let method = key.as_ref().map_or("", |k| k.method());
                    metrics::counter!("idempotent_replays_total", "method" => method).increment(1);
                    Ok(first)
                }
                None => Err(error),
            },
            attempt => attempt,
        }
    }

    /// The answer already given to `key`, if any (see `Idempotency::answered`): lets a handler
    /// skip work outside its transaction (a call to another service) on a retry.
    pub async fn answered<R: Message + Default>(
        &self,
        key: Option<&RequestKey>,
    ) -> Result<Option<R>, ApiError> {
        let mut conn = self.connected(self.pool.acquire()).await?;
        self.idempotency
            .answered(&mut conn, key)
            .instrument(db_span(&self.schema, "SELECT", "idempotency"))
            .await
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
        change.commit(None).await?;
        Ok(answer)
    }

    /// Starts an audited read.
    pub async fn read(&self) -> Result<Read, ApiError> {
        Ok(Read {
            conn: self.connected(self.pool.acquire()).await?,
            audit: self.audit.clone(),
            schema: Arc::clone(&self.schema),
        })
    }

    /// `connecting` (the pool handing out a connection), cut short while the database is
    /// known to be away: the call is answered UNAVAILABLE at once instead of after the pool's
    /// whole acquire timeout.
    async fn connected<T>(
        &self,
        connecting: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, sqlx::Error> {
        // The wait for a free connection (and a BEGIN), apart from the statements' own time.
        let span = tracing::info_span!(
            "db.connect",
            otel.name = "connect",
            db.system.name = "postgresql",
            db.namespace = %self.schema,
        );
        if !self.database.is_down() {
            return connecting.instrument(span).await;
        }
        tokio::time::timeout(WAIT_WHILE_DOWN, connecting)
            .instrument(span)
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }

    async fn begin(&self) -> Result<Change, ApiError> {
        Ok(Change {
            tx: self.connected(self.pool.begin()).await?,
            changes: self.clone(),
            tail: Tail::default(),
        })
    }
}

impl Change {
    /// The transaction's connection, for the service's own statements.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Appends a domain event about `aggregate`, written with the commit; its event id.
    pub async fn event<E: prost::Name>(
        &mut self,
        aggregate: impl Into<Uuid>,
        at: DateTime<Utc>,
        event: &E,
    ) -> Result<Uuid, ApiError> {
        let id = Uuid::now_v7();
        let tail = &mut self.tail;
        tail.event_ids.push(id);
        tail.event_types.push(E::full_name());
        tail.aggregates.push(aggregate.into());
        tail.payloads.push(event.encode_to_vec());
        tail.occurred.push(at);
        tail.traceparents.push(telemetry::current_traceparent());
        Ok(id)
    }

    /// Records that `caller` wrote personal data: `ids` of `resource_type`, written with the
    /// commit.
    pub async fn audit(
        &mut self,
        caller: &Caller,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        self.tail.audit.push(caller, resource_type, ids);
        Ok(())
    }

    /// Writes the tail (with `answer` under its request key, for a create) and commits; wakes
    /// the sequencer when events were written.
    async fn commit(self, answer: Option<(&RequestKey, Vec<u8>)>) -> Result<(), ApiError> {
        let schema = Arc::clone(&self.changes.schema);
        self.write_tail_and_commit(answer)
            .instrument(db_span(&schema, "COMMIT", ""))
            .await
    }

    async fn write_tail_and_commit(
        mut self,
        answer: Option<(&RequestKey, Vec<u8>)>,
    ) -> Result<(), ApiError> {
        let tail = std::mem::take(&mut self.tail);
        let wrote_events = !tail.event_ids.is_empty();
        if wrote_events || !tail.audit.is_empty() || answer.is_some() {
            let (key, response) = answer.unzip();
            let query = sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.changes.write_tail)))
                .bind(&tail.event_ids)
                .bind(&tail.event_types)
                .bind(&tail.aggregates)
                .bind(&tail.payloads)
                .bind(&tail.occurred)
                .bind(&tail.traceparents);
            tail.audit
                .bind(query)
                .bind(key.map(RequestKey::subject))
                .bind(key.map(RequestKey::method))
                .bind(key.map(RequestKey::request_id))
                .bind(key.map(RequestKey::request_hash))
                .bind(response)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        for event_type in tail.event_types {
            metrics::counter!("outbox_events_written_total", "event_type" => event_type)
                .increment(1);
        }
        if wrote_events {
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

    /// Records that `caller` read `ids` of `resource_type`, committed (in a batch with the
    /// reads of other requests, `audit::writer`); call it before answering.
    pub async fn audit(
        &mut self,
        caller: &Caller,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        self.audit
            .record(caller, resource_type, ids)
            .instrument(db_span(&self.schema, "INSERT", "audit_log"))
            .await
    }
}

/// A span of database work after the OpenTelemetry database conventions: named
/// `<operation> <schema>.<table>` (or `<operation> <schema>`), never with a statement's
/// parameters.
pub fn db_span(schema: &str, operation: &'static str, table: &'static str) -> tracing::Span {
    let name = if table.is_empty() {
        format!("{operation} {schema}")
    } else {
        format!("{operation} {schema}.{table}")
    };
    let span = tracing::info_span!(
        "db",
        otel.name = %name,
        db.system.name = "postgresql",
        db.namespace = %schema,
        db.operation.name = operation,
        db.collection.name = tracing::field::Empty,
    );
    if !table.is_empty() {
        span.record("db.collection.name", table);
    }
    span
}
