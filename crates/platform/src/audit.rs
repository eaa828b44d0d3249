//! The audit log of personal-data access: who read or wrote which record, when, in which
//! trace. Writes join the business transaction; reads are logged before the data is answered.

use std::sync::Arc;

use sqlx::{PgExecutor, types::Uuid};

use crate::{ApiError, auth::Caller, telemetry};

/// Appends to `<schema>.audit_log`.
#[derive(Clone)]
pub struct AuditLog {
    insert: Arc<str>,
}

impl AuditLog {
    /// The audit log of `schema`.
    pub fn new(schema: &str) -> Self {
        AuditLog {
            insert: format!(
                "INSERT INTO {schema}.audit_log (subject, roles, action, resource_type, resource_id, trace_id)
                 SELECT $1, $2, $3, $4, id::text, $6 FROM unnest($5::uuid[]) AS id"
            )
            .into(),
        }
    }

    /// Records that `who` called their method (the action) on each of `ids` of
    /// `resource_type`.
    pub async fn record(
        &self,
        executor: impl PgExecutor<'_>,
        who: &Caller,
        resource_type: &str,
        ids: &[Uuid],
    ) -> Result<(), ApiError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.insert)))
            .bind(&who.subject)
            .bind(who.role_names())
            .bind(who.method)
            .bind(resource_type)
            .bind(ids)
            .bind(telemetry::trace_id_of(&tracing::Span::current()))
            .execute(executor)
            .await?;
        Ok(())
    }
}
