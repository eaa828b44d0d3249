//! The roster as intake's AdvisorChanged events tell it: which advisor a token's subject is.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{AdvisorId, TeamId};

/// An advisor as intake announced them.
#[derive(Debug, Clone)]
pub struct AdvisorRow {
    /// Roster id.
    pub id: AdvisorId,
    /// Team.
    pub team_id: TeamId,
    /// Token subject.
    pub subject: String,
    /// Display name.
    pub display_name: String,
    /// Gets new cases.
    pub active: bool,
}

/// Inserts or replaces an advisor.
#[tracing::instrument(name = "INSERT caseplan.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "advisors"))]
pub async fn upsert(
    conn: &mut PgConnection,
    advisor: &AdvisorRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO caseplan.advisors (id, team_id, subject, display_name, active, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET team_id = $2, subject = $3, display_name = $4,
             active = $5, updated_at = $6",
        Uuid::from(advisor.id),
        Uuid::from(advisor.team_id),
        advisor.subject,
        advisor.display_name,
        advisor.active,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The roster id of the advisor whose tokens carry `subject`.
#[tracing::instrument(name = "SELECT caseplan.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "advisors"))]
pub async fn by_subject(
    conn: &mut PgConnection,
    subject: &str,
) -> Result<Option<AdvisorId>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM caseplan.advisors WHERE subject = $1",
        subject
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.map(AdvisorId))
}

/// An advisor by roster id.
#[tracing::instrument(name = "SELECT caseplan.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "advisors"))]
pub async fn get(
    conn: &mut PgConnection,
    id: AdvisorId,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT id, team_id, subject, display_name, active FROM caseplan.advisors WHERE id = $1",
        Uuid::from(id),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| AdvisorRow {
        id: AdvisorId(r.id),
        team_id: TeamId(r.team_id),
        subject: r.subject,
        display_name: r.display_name,
        active: r.active,
    }))
}
