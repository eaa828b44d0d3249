//! A team's case-plan settings (defaults until a team lead changes them).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::TeamId;

/// A team's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamSettings {
    /// Plan revisions need a team lead's approval before an agreement is proposed on them.
    pub plan_approval_required: bool,
    /// Version for etags (0: the defaults, never written).
    pub version: i32,
}

/// The team's settings, or the defaults.
#[tracing::instrument(name = "SELECT caseplan.team_settings", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "team_settings"))]
pub async fn settings(conn: &mut PgConnection, team: TeamId) -> Result<TeamSettings, sqlx::Error> {
    let row = sqlx::query_as!(
        TeamSettings,
        "SELECT plan_approval_required, version FROM caseplan.team_settings WHERE team_id = $1",
        Uuid::from(team),
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or(TeamSettings {
        plan_approval_required: false,
        version: 0,
    }))
}

/// Writes the team's settings if they are still at `version`; the new settings, or `None`
/// when someone changed them meanwhile.
#[tracing::instrument(name = "UPDATE caseplan.team_settings", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "team_settings", db.query.summary = "UPDATE team_settings; INSERT team_settings"))]
pub async fn update(
    conn: &mut PgConnection,
    team: TeamId,
    plan_approval_required: bool,
    version: i32,
    at: DateTime<Utc>,
    by: &str,
) -> Result<Option<TeamSettings>, sqlx::Error> {
    let updated = sqlx::query_as!(
        TeamSettings,
        "UPDATE caseplan.team_settings SET plan_approval_required = $2, version = version + 1,
             updated_at = $4, updated_by = $5
         WHERE team_id = $1 AND version = $3
         RETURNING plan_approval_required, version",
        Uuid::from(team),
        plan_approval_required,
        version,
        at,
        by,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if updated.is_some() || version != 0 {
        return Ok(updated);
    }
    // Never written: the defaults' version 0 is current unless a concurrent first write won.
    sqlx::query_as!(
        TeamSettings,
        "INSERT INTO caseplan.team_settings
             (team_id, plan_approval_required, version, updated_at, updated_by)
         VALUES ($1, $2, 1, $3, $4)
         ON CONFLICT (team_id) DO NOTHING
         RETURNING plan_approval_required, version",
        Uuid::from(team),
        plan_approval_required,
        at,
        by,
    )
    .fetch_optional(conn)
    .await
}
