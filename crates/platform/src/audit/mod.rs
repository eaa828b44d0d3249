//! The audit log of personal-data access: who read or wrote which record, when, in which
//! trace. Writes join the business transaction; reads are logged before the data is answered.
//! The log is append-only and hash-chained ([`chain`]); auditors verify and query it over
//! gRPC ([`service`]), and `<service> audit verify` verifies it from the command line.

pub mod chain;
pub mod service;
pub mod writer;

use std::sync::Arc;

use sqlx::{PgExecutor, types::Uuid};

use crate::{ApiError, auth::Caller, telemetry};

/// Audit records on their way to `<schema>.audit_log`, as columns, so that any number of them
/// go in one statement (a change's tail, a batch of the read audit writer).
#[derive(Debug, Default)]
pub struct AuditRows {
    pub(crate) subjects: Vec<String>,
    /// The caller's role names, comma-joined (split again in SQL).
    pub(crate) roles: Vec<String>,
    pub(crate) actions: Vec<&'static str>,
    pub(crate) resource_types: Vec<String>,
    pub(crate) resource_ids: Vec<String>,
    pub(crate) trace_ids: Vec<String>,
}

impl AuditRows {
    /// That `who` called their method (the action) on each of `ids` of `resource_type`, in the
    /// current trace.
    pub fn push(&mut self, who: &Caller, resource_type: &str, ids: &[Uuid]) {
        let trace = telemetry::trace_id_of(&tracing::Span::current());
        let roles = who.role_names().join(",");
        for id in ids {
            self.subjects.push(who.subject.clone());
            self.roles.push(roles.clone());
            self.actions.push(who.method);
            self.resource_types.push(resource_type.to_owned());
            self.resource_ids.push(id.to_string());
            self.trace_ids.push(trace.clone());
        }
    }

    /// Moves `other`'s records behind these.
    pub fn append(&mut self, other: &mut AuditRows) {
        self.subjects.append(&mut other.subjects);
        self.roles.append(&mut other.roles);
        self.actions.append(&mut other.actions);
        self.resource_types.append(&mut other.resource_types);
        self.resource_ids.append(&mut other.resource_ids);
        self.trace_ids.append(&mut other.trace_ids);
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.resource_ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.resource_ids.is_empty()
    }

    /// The `SELECT` that turns parameters `$first`..`$first+5` (the six columns, as arrays)
    /// into rows for `INSERT INTO <schema>.audit_log (subject, roles, action, resource_type,
    /// resource_id, trace_id)`.
    pub(crate) fn select_sql(first: usize) -> String {
        let p = |n: usize| format!("${}::text[]", first + n);
        format!(
            "SELECT subject, string_to_array(roles, ','), action, resource_type, resource_id, trace_id
             FROM unnest({}, {}, {}, {}, {}, {})
                  AS a(subject, roles, action, resource_type, resource_id, trace_id)",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        )
    }

    /// Binds the six columns to `query`, in [`AuditRows::select_sql`]'s order.
    pub(crate) fn bind<'q>(
        &'q self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        query
            .bind(&self.subjects)
            .bind(&self.roles)
            .bind(&self.actions)
            .bind(&self.resource_types)
            .bind(&self.resource_ids)
            .bind(&self.trace_ids)
    }
}

/// Appends to `<schema>.audit_log` in the caller's own statement.
#[derive(Clone)]
pub struct AuditLog {
    insert_one: Arc<str>,
}

impl AuditLog {
    /// The audit log of `schema`.
    pub fn new(schema: &str) -> Self {
        AuditLog {
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
}
