//! Read audit records in shared commits. Every read of personal data is in the audit log,
//! committed, before it is answered; a read hands its records to the service's one writer and
//! waits. The writer inserts whatever has queued meanwhile in one statement and one commit (a
//! group commit), so a busy service commits once per batch instead of once per read, and a
//! read costs no statement of its own.
//!
//! The writer keeps a connection of its own, outside the pool: a read holds its pooled
//! connection while it waits, and with every pooled connection held by a waiting read the
//! writer could otherwise never get one.

use std::sync::Arc;

use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::AuditRows;
use crate::{ApiError, auth::Caller};

/// Reads waiting at most, beyond which a reader waits for room (backpressure).
const QUEUE: usize = 4096;
/// Reads one batch takes at most.
const BATCH: usize = 256;

/// Why a batch was not written, for each read waiting on it (`sqlx::Error` is not `Clone`).
#[derive(Debug, Clone)]
enum Failure {
    /// The database is unreachable: the read may be retried.
    Unavailable,
    /// Anything else, logged by the writer.
    Failed,
}

struct Pending {
    rows: AuditRows,
    done: oneshot::Sender<Result<(), Failure>>,
}

/// The handle reads record through; clones share one writer, which ends when the last clone
/// is dropped.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    /// Starts the writer of `<schema>.audit_log`, connecting like `pool` does.
    pub fn start(pool: &PgPool, schema: &str) -> Self {
        let (queue, incoming) = mpsc::channel(QUEUE);
        let insert: Arc<str> = format!(
            "INSERT INTO {schema}.audit_log (subject, roles, action, resource_type, resource_id, trace_id)
             {}",
            AuditRows::select_sql(1)
        )
        .into();
        let options = pool.connect_options().as_ref().clone();
        tokio::spawn(write_batches(incoming, options, insert));
        AuditWriter { queue }
    }

    /// Records that `who` read `ids` of `resource_type`, and returns once that is committed.
    pub async fn record(
        &self,
        who: &Caller,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut rows = AuditRows::default();
        rows.push(who, resource_type, ids);
        let (done, written) = oneshot::channel();
        let stopped = || ApiError::Unavailable("the audit writer has stopped; retry".into());
        self.queue
            .send(Pending { rows, done })
            .await
            .map_err(|_| stopped())?;
        match written.await.map_err(|_| stopped())? {
            Ok(()) => Ok(()),
            Err(Failure::Unavailable) => Err(ApiError::Unavailable(
                "the database is unavailable; retry later".into(),
            )),
            Err(Failure::Failed) => Err(ApiError::Internal(
                "the read's audit record could not be written".into(),
            )),
        }
    }
}

async fn write_batches(
    mut incoming: mpsc::Receiver<Pending>,
    options: PgConnectOptions,
    insert: Arc<str>,
) {
    let mut connection: Option<PgConnection> = None;
    let mut batch = Vec::with_capacity(BATCH);
    while incoming.recv_many(&mut batch, BATCH).await > 0 {
        let mut rows = AuditRows::default();
        for pending in &mut batch {
            rows.append(&mut pending.rows);
        }
        let result = write(&mut connection, &options, &insert, &rows).await;
        metrics::histogram!("audit_read_batch_records").record(rows.len() as f64);
        let outcome = match result {
            Ok(()) => Ok(()),
            Err(error) => {
                // A broken connection is not used again.
                connection = None;
                let unavailable = crate::error::database_unavailable(&error)
                    || matches!(error, sqlx::Error::Tls(_));
                tracing::warn!(%error, records = rows.len(), "read audit records not written");
                Err(if unavailable {
                    Failure::Unavailable
                } else {
                    Failure::Failed
                })
            }
        };
        for pending in batch.drain(..) {
            // A reader that gave up (its call was cancelled) has nothing to answer.
            let _ = pending.done.send(outcome.clone());
        }
    }
}

async fn write(
    connection: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    insert: &Arc<str>,
    rows: &AuditRows,
) -> Result<(), sqlx::Error> {
    let conn = match connection {
        Some(conn) => conn,
        None => connection.insert(PgConnection::connect_with(options).await?),
    };
    rows.bind(sqlx::query(sqlx::AssertSqlSafe(Arc::clone(insert))))
        .execute(conn)
        .await?;
    Ok(())
}
