//! The cases partner may refer, as case-plan's feed tells them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::{CaseId, TeamId};

/// A case as partner knows it.
#[derive(Debug, Clone, Copy)]
pub struct CaseRow {
    /// Id.
    pub id: CaseId,
    /// Its team.
    pub team_id: TeamId,
    /// Open (not closed).
    pub open: bool,
}

/// Records a case (open) or its state; idempotent.
#[tracing::instrument(name = "INSERT partner.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "INSERT", db.collection.name = "cases"))]
pub async fn upsert(
    conn: &mut PgConnection,
    case: CaseRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO partner.cases (id, team_id, open, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET team_id = $2, open = $3, updated_at = $4",
        case.id.0,
        case.team_id.0,
        case.open,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads a case.
#[tracing::instrument(name = "SELECT partner.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn get(conn: &mut PgConnection, id: CaseId) -> Result<Option<CaseRow>, sqlx::Error> {
    sqlx::query_as!(
        CaseRow,
        r#"SELECT id AS "id: CaseId", team_id AS "team_id: TeamId", open
           FROM partner.cases WHERE id = $1"#,
        id.0,
    )
    .fetch_optional(conn)
    .await
}

/// Notes whose case it is (the applicant id from CaseRegistered).
#[tracing::instrument(name = "UPDATE partner.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn set_applicant(
    conn: &mut PgConnection,
    case: CaseId,
    applicant: uuid::Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE partner.cases SET applicant_id = $2 WHERE id = $1",
        case.0,
        applicant
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases what partner holds of `case` about its client: the referrals' reasons, notes and
/// shared data, the consents' purpose and evidence, the link to the person. Whether the case
/// was here and not erased yet.
#[tracing::instrument(name = "UPDATE partner", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.query.summary = "UPDATE cases; UPDATE referrals; UPDATE consents"))]
pub async fn erase(
    conn: &mut PgConnection,
    case: CaseId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let erased = sqlx::query!(
        "UPDATE partner.cases SET applicant_id = NULL, erased_at = $2
         WHERE id = $1 AND erased_at IS NULL",
        case.0,
        at
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if !erased {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE partner.referrals SET reason = '', shared = NULL,
             redacted_at = coalesce(redacted_at, $2),
             decline_reason = CASE WHEN decline_reason IS NULL THEN NULL ELSE '' END,
             feedback_note = CASE WHEN feedback_note IS NULL THEN NULL ELSE '' END
         WHERE case_id = $1",
        case.0,
        at
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE partner.consents SET purpose = '', evidence = '' WHERE case_id = $1",
        case.0
    )
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// A person's cases.
#[tracing::instrument(name = "SELECT partner.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn of_person(
    conn: &mut PgConnection,
    person: uuid::Uuid,
) -> Result<Vec<CaseId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id: CaseId" FROM partner.cases WHERE applicant_id = $1 ORDER BY id"#,
        person
    )
    .fetch_all(conn)
    .await
}

/// The ids of every record partner holds about a person: their cases, consents and
/// referrals (the audit trail's person filter).
#[tracing::instrument(name = "SELECT partner", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.query.summary = "SELECT cases consents referrals"))]
pub async fn records_of(
    pool: sqlx::PgPool,
    person: uuid::Uuid,
) -> Result<Vec<uuid::Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM partner.cases WHERE applicant_id = $1
         UNION SELECT s.id FROM partner.consents s
               JOIN partner.cases c ON c.id = s.case_id WHERE c.applicant_id = $1
         UNION SELECT r.id FROM partner.referrals r
               JOIN partner.cases c ON c.id = r.case_id WHERE c.applicant_id = $1"#,
        person
    )
    .fetch_all(&pool)
    .await
}
