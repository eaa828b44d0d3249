//! Idempotent creates (AIP-155). A create carrying a `request_id` claims that id inside its
//! own transaction; a retry with the same id gets the first answer back and writes nothing.
//!
//! Two concurrent requests with one id: the second's insert waits on the first's uncommitted
//! row, then finds it committed and replays its answer (or, if the first rolled back, goes
//! ahead itself). The same id with a different request is refused, so a client bug cannot
//! silently return an unrelated answer.

use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::{ApiError, Violations, auth::Caller};

/// One request's idempotency key, when the caller sent a `request_id`.
#[derive(Debug, Clone)]
pub struct RequestKey {
    subject: String,
    method: &'static str,
    request_id: Uuid,
    request_hash: Vec<u8>,
}

/// The idempotency key of a create: `None` without a `request_id`, or when the id is not a
/// UUID (then `request_id` is named in `violations`).
pub fn request_key<M: Message>(
    violations: &mut Violations,
    caller: &Caller,
    request_id: &str,
    request: &M,
) -> Option<RequestKey> {
    if request_id.is_empty() {
        return None;
    }
    let request_id = violations.check(
        "request_id",
        Uuid::parse_str(request_id).map_err(|_| "must be a UUID".to_owned()),
    )?;
    Some(RequestKey {
        subject: caller.subject.clone(),
        method: caller.method,
        request_id,
        request_hash: Sha256::digest(request.encode_to_vec()).to_vec(),
    })
}

/// Stores and replays answers in `<schema>.idempotency`.
#[derive(Clone)]
pub struct Idempotency {
    claim: Arc<str>,
    lookup: Arc<str>,
    save: Arc<str>,
}

impl Idempotency {
    /// The idempotency records of `schema`.
    pub fn new(schema: &str) -> Self {
        Idempotency {
            claim: format!(
                "INSERT INTO {schema}.idempotency (subject, method, request_id, request_hash)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
            )
            .into(),
            lookup: format!(
                "SELECT request_hash, response FROM {schema}.idempotency
                 WHERE subject = $1 AND method = $2 AND request_id = $3"
            )
            .into(),
            save: format!(
                "UPDATE {schema}.idempotency SET response = $4
                 WHERE subject = $1 AND method = $2 AND request_id = $3"
            )
            .into(),
        }
    }

    /// Claims `key` in `tx`. Returns the earlier answer when the request was already done.
    pub async fn replay<R: Message + Default>(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        key: Option<&RequestKey>,
    ) -> Result<Option<R>, ApiError> {
        let Some(key) = key else { return Ok(None) };
        let claimed = sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.claim)))
            .bind(&key.subject)
            .bind(key.method)
            .bind(key.request_id)
            .bind(&key.request_hash)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if claimed == 1 {
            return Ok(None);
        }
        let (hash, response): (Vec<u8>, Option<Vec<u8>>) =
            sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.lookup)))
                .bind(&key.subject)
                .bind(key.method)
                .bind(key.request_id)
                .fetch_one(&mut **tx)
                .await?;
        if hash != key.request_hash {
            return Err(ApiError::invalid(
                "request_id",
                "was already used for a different request",
            ));
        }
        let response = response
            .ok_or_else(|| ApiError::Internal("idempotency record without answer".into()))?;
        let decoded = R::decode(response.as_slice())
            .map_err(|e| ApiError::Internal(format!("stored answer does not decode: {e}")))?;
        metrics::counter!("idempotent_replays_total", "method" => key.method).increment(1);
        Ok(Some(decoded))
    }

    /// The answer already given to `key`, if any, without claiming it: lets a handler skip
    /// work outside its transaction (a call to another service) on a retry.
    pub async fn answered<R: Message + Default>(
        &self,
        conn: &mut sqlx::PgConnection,
        key: Option<&RequestKey>,
    ) -> Result<Option<R>, ApiError> {
        let Some(key) = key else { return Ok(None) };
        let found: Option<(Vec<u8>, Option<Vec<u8>>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.lookup)))
                .bind(&key.subject)
                .bind(key.method)
                .bind(key.request_id)
                .fetch_optional(conn)
                .await?;
        match found {
            Some((hash, _)) if hash != key.request_hash => Err(ApiError::invalid(
                "request_id",
                "was already used for a different request",
            )),
            Some((_, Some(response))) => R::decode(response.as_slice())
                .map(Some)
                .map_err(|e| ApiError::Internal(format!("stored answer does not decode: {e}"))),
            _ => Ok(None),
        }
    }

    /// Stores the answer to `key` in `tx`, before it commits.
    pub async fn save<R: Message>(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        key: Option<&RequestKey>,
        response: &R,
    ) -> Result<(), ApiError> {
        let Some(key) = key else { return Ok(()) };
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.save)))
            .bind(&key.subject)
            .bind(key.method)
            .bind(key.request_id)
            .bind(response.encode_to_vec())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
