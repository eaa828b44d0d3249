//! Idempotent creates (AIP-155). A create carrying a `request_id` stores its answer under
//! that id in the transaction of its writes (`change::Changes::create`); a retry with the same
//! id gets the first answer back and writes nothing.
//!
//! Two concurrent requests with one id: the second's answer row waits on the first's
//! uncommitted one, then collides with it once committed, so the second rolls back and
//! replays the first's answer (or, if the first rolled back, commits itself). The same id with
//! a different request is refused, so a client bug cannot silently return an unrelated answer.

use std::sync::Arc;

use prost::Message;
use sha2::{Digest, Sha256};
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

impl RequestKey {
    /// Who sent it (the token's subject).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The RPC it is for.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The client's `request_id`.
    pub fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// SHA-256 of the encoded request, to tell a retry from a reused id.
    pub fn request_hash(&self) -> &[u8] {
        &self.request_hash
    }
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
    lookup: Arc<str>,
}

impl Idempotency {
    /// The idempotency records of `schema`.
    pub fn new(schema: &str) -> Self {
        Idempotency {
            lookup: format!(
                "SELECT request_hash, response FROM {schema}.idempotency
                 WHERE subject = $1 AND method = $2 AND request_id = $3"
            )
            .into(),
        }
    }

    /// The answer already given to `key`, if any; the same id with a different request is
    /// refused.
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
}
