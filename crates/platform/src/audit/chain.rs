//! The audit log's hash chain: every record, once committed, is linked to the one before it,
//! so a record removed, altered or moved afterwards is found.
//!
//! Records are inserted by many concurrent transactions, so they cannot be linked as they are
//! written without serializing every audited call of the service. One chainer at a time (an
//! advisory lock serializes replicas) links what has committed instead: link n is SHA-256 over
//! link n-1 and record n's content ([`link`]), stored on the record with its position n. A
//! record that commits late is linked by a later run. The database lets exactly this write
//! through its append-only trigger: the chain columns, once, content unchanged.
//!
//! [`verify`] recomputes the chain from position 1 and names the first broken link: a missing
//! position (a record removed), or a hash that does not match (content altered, records
//! swapped). What it cannot see from inside the database is a cut-off tail, or a chain rebuilt
//! whole by someone who may write the table: compare `head_hash` with one noted elsewhere.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Records linked per transaction; a larger backlog is linked in several.
const BATCH: i64 = 1000;
/// Records read per query while verifying.
const VERIFY_BATCH: i64 = 5000;
/// The link before the first record.
const GENESIS: [u8; 32] = [0; 32];

/// A record's content, as the chain covers it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Record {
    /// Id in the log.
    pub id: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who.
    pub subject: String,
    /// Their roles.
    pub roles: Vec<String>,
    /// The RPC.
    pub action: String,
    /// Kind of object.
    pub resource_type: String,
    /// Its id.
    pub resource_id: String,
    /// Trace.
    pub trace_id: String,
}

/// Link n: SHA-256 over link n-1 and record n, every field length-prefixed so no two records
/// hash alike by shifting text between fields.
pub fn link(previous: &[u8], record: &Record) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(previous);
    hash.update(record.id.to_be_bytes());
    hash.update(record.occurred_at.timestamp_micros().to_be_bytes());
    let mut text = |value: &str| {
        hash.update((value.len() as u64).to_be_bytes());
        hash.update(value.as_bytes());
    };
    text(&record.subject);
    text(&record.action);
    text(&record.resource_type);
    text(&record.resource_id);
    text(&record.trace_id);
    hash.update((record.roles.len() as u64).to_be_bytes());
    for role in &record.roles {
        hash.update((role.len() as u64).to_be_bytes());
        hash.update(role.as_bytes());
    }
    hash.finalize().into()
}

/// Links one schema's committed audit records into its chain.
#[derive(Clone)]
pub struct Chainer {
    pool: PgPool,
    schema: &'static str,
    head: Arc<str>,
    unchained: Arc<str>,
    write: Arc<str>,
}

impl Chainer {
    /// The chainer of `schema`'s audit log.
    pub fn new(pool: PgPool, schema: &'static str) -> Self {
        Chainer {
            pool,
            schema,
            head: format!(
                "SELECT chain_position, chain_hash FROM {schema}.audit_log
                 WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1"
            )
            .into(),
            unchained: format!(
                "SELECT id, occurred_at, subject, roles, action, resource_type, resource_id, trace_id
                 FROM {schema}.audit_log WHERE chain_position IS NULL ORDER BY id LIMIT $1"
            )
            .into(),
            write: format!(
                "UPDATE {schema}.audit_log a SET chain_position = l.position, chain_hash = l.hash
                 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS l(id, position, hash)
                 WHERE a.id = l.id"
            )
            .into(),
        }
    }

    /// Links up to one batch of what is committed and unlinked; returns how many records.
    pub async fn chain_once(&self) -> Result<usize, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("fallwerk.audit_chain.{}", self.schema))
            .execute(&mut *tx)
            .await?;
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.head)))
                .fetch_optional(&mut *tx)
                .await?;
        let records: Vec<Record> = sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.unchained)))
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
        if records.is_empty() {
            return Ok(0);
        }
        let (mut position, mut previous) = head.unwrap_or((0, GENESIS.to_vec()));
        let (mut ids, mut positions, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        for record in &records {
            position += 1;
            previous = link(&previous, record).to_vec();
            ids.push(record.id);
            positions.push(position);
            hashes.push(previous.clone());
        }
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.write)))
            .bind(&ids)
            .bind(&positions)
            .bind(&hashes)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        metrics::gauge!("audit_chain_head_position", "schema" => self.schema).set(position as f64);
        Ok(records.len())
    }

    /// Links every half second (at once again after a full batch) until shutdown.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let pause = match self.chain_once().await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => Duration::from_millis(500),
                Err(error) => {
                    tracing::warn!(%error, schema = self.schema, "audit chainer failed; retrying");
                    metrics::counter!("audit_chain_failures_total", "schema" => self.schema)
                        .increment(1);
                    Duration::from_secs(2)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// What verifying a chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records linked.
    pub chained: i64,
    /// Records committed but not linked yet.
    pub unchained: i64,
    /// The last link, hex.
    pub head_hash: String,
    /// The first broken link: its position and what is wrong.
    pub broken: Option<(i64, String)>,
}

/// Recomputes `schema`'s chain from the first link.
pub async fn verify(pool: &PgPool, schema: &str) -> Result<Verification, sqlx::Error> {
    let read = format!(
        "SELECT id, occurred_at, subject, roles, action, resource_type, resource_id, trace_id,
                chain_position, chain_hash
         FROM {schema}.audit_log WHERE chain_position >= $1 ORDER BY chain_position LIMIT $2"
    );
    let mut previous = GENESIS.to_vec();
    let mut expected: i64 = 1;
    let mut broken = None;
    'batches: loop {
        let rows: Vec<(i64, Vec<u8>, Record)> = sqlx::query(sqlx::AssertSqlSafe(read.as_str()))
            .bind(expected)
            .bind(VERIFY_BATCH)
            .try_map(|row: sqlx::postgres::PgRow| {
                use sqlx::{FromRow, Row};
                Ok((
                    row.try_get("chain_position")?,
                    row.try_get("chain_hash")?,
                    Record::from_row(&row)?,
                ))
            })
            .fetch_all(pool)
            .await?;
        let done = (rows.len() as i64) < VERIFY_BATCH;
        for (position, hash, record) in rows {
            if position != expected {
                broken = Some((
                    expected,
                    format!("position {expected} is missing: a record was removed"),
                ));
                break 'batches;
            }
            let recomputed = link(&previous, &record);
            if hash != recomputed {
                broken = Some((
                    position,
                    format!(
                        "record {} does not match its link: its content was altered, or records \
                         were moved",
                        record.id
                    ),
                ));
                break 'batches;
            }
            previous = hash;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let unchained: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}.audit_log WHERE chain_position IS NULL"
    )))
    .fetch_one(pool)
    .await?;
    Ok(Verification {
        chained: expected - 1,
        unchained,
        head_hash: hex(&previous),
        broken,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(subject: &str, action: &str) -> Record {
        Record {
            id: 7,
            occurred_at: DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            subject: subject.into(),
            roles: vec!["advisor".into()],
            action: action.into(),
            resource_type: "case".into(),
            resource_id: "c-1".into(),
            trace_id: String::new(),
        }
    }

    #[test]
    fn a_link_covers_the_previous_link_and_every_field_apart() {
        let base = link(&GENESIS, &record("ab", "c"));
        assert_eq!(base, link(&GENESIS, &record("ab", "c")), "deterministic");
        assert_ne!(
            base,
            link(&[1; 32], &record("ab", "c")),
            "the previous link counts"
        );
        assert_ne!(
            base,
            link(&GENESIS, &record("a", "bc")),
            "text cannot shift between fields"
        );
        let mut other_role = record("ab", "c");
        other_role.roles = vec!["team_lead".into()];
        assert_ne!(base, link(&GENESIS, &other_role));
    }
}
