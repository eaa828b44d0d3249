//! The case's timeline: one row per event, in the order they happened.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{CaseId, TimelineKind};

/// One timeline entry.
#[derive(Debug, Clone)]
pub struct EntryRow {
    /// Position (the page key).
    pub seq: i64,
    /// What happened.
    pub kind: TimelineKind,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who (a subject, or `intake`).
    pub actor: String,
    /// The object it is about; empty for the case.
    pub subject_id: String,
    /// Short German description.
    pub summary: String,
}

/// Appends an entry to the case's timeline.
#[tracing::instrument(name = "INSERT caseplan.timeline", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "timeline"))]
pub async fn append(
    conn: &mut PgConnection,
    case: CaseId,
    kind: TimelineKind,
    at: DateTime<Utc>,
    actor: &str,
    subject_id: &str,
    summary: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO caseplan.timeline (case_id, kind, occurred_at, actor, subject_id, summary)
         VALUES ($1, $2, $3, $4, $5, $6)",
        Uuid::from(case),
        kind.as_str(),
        at,
        actor,
        subject_id,
        summary,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A page of the case's timeline, oldest first, after position `after`.
#[tracing::instrument(name = "SELECT caseplan.timeline", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "timeline"))]
pub async fn list(
    conn: &mut PgConnection,
    case: CaseId,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as!(
        EntryRow,
        r#"SELECT seq, kind AS "kind: _", occurred_at, actor, subject_id, summary
           FROM caseplan.timeline WHERE case_id = $1 AND seq > COALESCE($2::bigint, 0)
           ORDER BY seq LIMIT $3"#,
        Uuid::from(case),
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}
