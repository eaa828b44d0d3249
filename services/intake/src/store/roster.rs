//! Teams and advisors, with the caseload each advisor carries.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};

use crate::domain::{AdvisorFunction, AdvisorId, AdvisorLoad, TeamId};

/// A team as stored.
#[derive(Debug, Clone, FromRow)]
pub struct TeamRow {
    /// Id.
    pub id: TeamId,
    /// Name.
    pub display_name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Inserts a team; `None` when the name is taken.
pub async fn insert_team(
    conn: &mut PgConnection,
    id: TeamId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO intake.teams (id, display_name, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (display_name) DO NOTHING
         RETURNING id, display_name, created_at",
    )
    .bind(id)
    .bind(name)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Every team, by name.
pub async fn teams(conn: &mut PgConnection) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, display_name, created_at FROM intake.teams ORDER BY display_name")
        .fetch_all(conn)
        .await
}

/// Whether the team exists.
pub async fn team_exists(conn: &mut PgConnection, id: TeamId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM intake.teams WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// An advisor as stored, with the open cases they carry.
#[derive(Debug, Clone, FromRow)]
pub struct AdvisorRow {
    /// Id.
    pub id: AdvisorId,
    /// Team.
    pub team_id: TeamId,
    /// The token subject the advisor signs in with.
    pub subject: String,
    /// Name.
    pub display_name: String,
    /// Profession.
    #[sqlx(try_from = "String")]
    pub function: AdvisorFunction,
    /// Most open cases.
    pub capacity: i32,
    /// Takes cases.
    pub active: bool,
    /// Version (the etag).
    pub version: i32,
    /// Open cases now.
    pub open_cases: i64,
}

/// The open cases of advisor `a`: the one definition of caseload.
const OPEN_CASES: &str = "(SELECT count(*) FROM intake.case_openings c
      WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL)";

/// The columns of [`AdvisorRow`] from `intake.advisors a`.
fn columns() -> String {
    format!(
        "a.id, a.team_id, a.subject, a.display_name, a.function, a.capacity, a.active, a.version, {OPEN_CASES} AS open_cases"
    )
}

/// The values of an advisor written on create and update.
#[derive(Debug, Clone)]
pub struct AdvisorValues {
    /// Name.
    pub display_name: String,
    /// Profession.
    pub function: AdvisorFunction,
    /// Most open cases.
    pub capacity: i32,
    /// Takes cases.
    pub active: bool,
}

/// Inserts an advisor; `None` when the subject is already in the roster.
pub async fn insert_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
    team: TeamId,
    subject: &str,
    values: &AdvisorValues,
    now: DateTime<Utc>,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO intake.advisors AS a (id, team_id, subject, display_name, function, capacity, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (subject) DO NOTHING
         RETURNING {}",
        columns()
    )))
    .bind(id)
    .bind(team)
    .bind(subject)
    .bind(&values.display_name)
    .bind(values.function.as_str())
    .bind(values.capacity)
    .bind(values.active)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Reads an advisor and locks it for a change in this transaction.
pub async fn lock_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM intake.advisors a WHERE a.id = $1 FOR UPDATE OF a",
        columns()
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The advisor signing in as `subject`.
pub async fn advisor_by_subject(
    conn: &mut PgConnection,
    subject: &str,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM intake.advisors a WHERE a.subject = $1",
        columns()
    )))
    .bind(subject)
    .fetch_optional(conn)
    .await
}

/// Writes new values; the caller holds the row's lock and checked the version.
pub async fn update_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
    values: &AdvisorValues,
    now: DateTime<Utc>,
) -> Result<AdvisorRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE intake.advisors AS a SET display_name = $2, function = $3, capacity = $4, active = $5,
             version = version + 1, updated_at = $6
         WHERE a.id = $1
         RETURNING {}",
        columns()
    )))
    .bind(id)
    .bind(&values.display_name)
    .bind(values.function.as_str())
    .bind(values.capacity)
    .bind(values.active)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The team's advisors, by name.
pub async fn advisors_of_team(
    conn: &mut PgConnection,
    team: TeamId,
) -> Result<Vec<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM intake.advisors a WHERE a.team_id = $1 ORDER BY a.display_name, a.id",
        columns()
    )))
    .bind(team)
    .fetch_all(conn)
    .await
}

/// The team's loads, with the advisor rows locked so concurrent openings do not all pick the
/// same least-loaded advisor.
pub async fn lock_team_loads(
    conn: &mut PgConnection,
    team: TeamId,
) -> Result<Vec<AdvisorLoad>, sqlx::Error> {
    let rows: Vec<AdvisorRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {} FROM intake.advisors a WHERE a.team_id = $1 ORDER BY a.id FOR UPDATE OF a",
        columns()
    )))
    .bind(team)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|a| AdvisorLoad {
            advisor: a.id,
            open_cases: a.open_cases,
            capacity: i64::from(a.capacity),
            active: a.active,
        })
        .collect())
}
