//! The audit log of personal-data access: who read or wrote which record, when, in which
//! trace. Writes join the business transaction; reads are logged before the data is answered.
//! The log is append-only and hash-chained ([`chain`]); auditors verify and query it over
//! gRPC ([`service`]), and `<service> audit verify` verifies it from the command line.

pub mod chain;
pub mod service;

use std::sync::Arc;

use sqlx::{PgExecutor, types::Uuid};

use crate::{ApiError, auth::Caller, telemetry};

/// Appends to `<schema>.audit_log`.
#[derive(Clone)]
pub struct AuditLog {
    insert: Arc<str>,
    insert_one: Arc<str>,
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
            insert_one: format!(
                "INSERT INTO {schema}.audit_log (subject, roles, action, resource_type, resource_id, trace_id)
                 VALUES ($1, $2, $3, $4, $5, $6)"
            )
            .into(),
        }
    }

    /// Records that `who` called their method on something named by text rather than a
    /// record id (an auditor's query, say).
    pub async fn record_text(
        &self,
        executor: impl PgExecutor<'_>,
        who: &Caller,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<(), ApiError> {
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.insert_one)))
            .bind(&who.subject)
            .bind(who.role_names())
            .bind(who.method)
            .bind(resource_type)
            .bind(resource_id)
            .bind(telemetry::trace_id_of(&tracing::Span::current()))
            .execute(executor)
            .await?;
        Ok(())
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
