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
