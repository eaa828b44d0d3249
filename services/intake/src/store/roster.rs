//! Teams and advisors, with the caseload each advisor carries.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{AdvisorFunction, AdvisorId, AdvisorLoad, TeamId};

/// A team as stored.
#[derive(Debug, Clone)]
pub struct TeamRow {
    /// Id.
    pub id: TeamId,
    /// Name.
    pub display_name: String,
    /// Leading digits of the postal codes of the team's service area.
    pub postal_code_prefixes: Vec<String>,
    /// Version (the etag).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Inserts a team; `None` when the name is taken.
#[tracing::instrument(name = "INSERT intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "teams"))]
pub async fn insert_team(
    conn: &mut PgConnection,
    id: TeamId,
    name: &str,
    postal_code_prefixes: &[String],
    now: DateTime<Utc>,
) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as!(
        TeamRow,
        r#"INSERT INTO intake.teams (id, display_name, postal_code_prefixes, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (display_name) DO NOTHING
         RETURNING id AS "id: TeamId", display_name, postal_code_prefixes, version, created_at"#,
        id.0,
        name,
        postal_code_prefixes,
        now,
    )
    .fetch_optional(conn)
    .await
}

/// A page of teams by name (then id), after the team `after`.
#[tracing::instrument(name = "SELECT intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "teams"))]
pub async fn teams(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as!(
        TeamRow,
        r#"SELECT id AS "id: TeamId", display_name, postal_code_prefixes, version, created_at
         FROM intake.teams
         WHERE $1::uuid IS NULL
            OR (display_name, id) > (SELECT display_name, id FROM intake.teams WHERE id = $1)
         ORDER BY display_name, id LIMIT $2"#,
        after,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One team.
#[tracing::instrument(name = "SELECT intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "teams"))]
pub async fn team(conn: &mut PgConnection, id: TeamId) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as!(
        TeamRow,
        r#"SELECT id AS "id: TeamId", display_name, postal_code_prefixes, version, created_at
         FROM intake.teams WHERE id = $1"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// Reads a team and locks it for a change in this transaction.
#[tracing::instrument(name = "SELECT intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "teams"))]
pub async fn lock_team(
    conn: &mut PgConnection,
    id: TeamId,
) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as!(
        TeamRow,
        r#"SELECT id AS "id: TeamId", display_name, postal_code_prefixes, version, created_at
         FROM intake.teams WHERE id = $1 FOR UPDATE"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// Writes a team's name and service area; `None` when another team has the name. The caller
/// holds the row's lock and checked the version.
#[tracing::instrument(name = "UPDATE intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "teams"))]
pub async fn update_team(
    conn: &mut PgConnection,
    id: TeamId,
    name: &str,
    postal_code_prefixes: &[String],
) -> Result<Option<TeamRow>, sqlx::Error> {
    let updated = sqlx::query_as!(
        TeamRow,
        r#"UPDATE intake.teams SET display_name = $2, postal_code_prefixes = $3, version = version + 1
         WHERE id = $1
         RETURNING id AS "id: TeamId", display_name, postal_code_prefixes, version, created_at"#,
        id.0,
        name,
        postal_code_prefixes,
    )
    .fetch_one(conn)
    .await;
    match updated {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        other => other.map(Some),
    }
}

/// Whether the team exists.
#[tracing::instrument(name = "SELECT intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "teams"))]
pub async fn team_exists(conn: &mut PgConnection, id: TeamId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM intake.teams WHERE id = $1) AS "exists!""#,
        id.0
    )
    .fetch_one(conn)
    .await
}

/// An advisor as stored, with the open cases they carry.
#[derive(Debug, Clone)]
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
    pub function: AdvisorFunction,
    /// Most open cases.
    pub capacity: i32,
    /// Takes cases.
    pub active: bool,
    /// Version (the etag).
    pub version: i32,
    /// Open cases now: the advisor's case openings not closed yet. Every query of this module
    /// counts them with the same subquery, the one definition of caseload.
    pub open_cases: i64,
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
#[tracing::instrument(name = "INSERT intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "advisors", db.query.summary = "INSERT advisors SELECT case_openings"))]
pub async fn insert_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
    team: TeamId,
    subject: &str,
    values: &AdvisorValues,
    now: DateTime<Utc>,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as!(
        AdvisorRow,
        r#"INSERT INTO intake.advisors AS a (id, team_id, subject, display_name, function, capacity, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (subject) DO NOTHING
         RETURNING a.id AS "id: AdvisorId", a.team_id AS "team_id: TeamId", a.subject, a.display_name,
             a.function AS "function: AdvisorFunction", a.capacity, a.active, a.version,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!""#,
        id.0,
        team.0,
        subject,
        values.display_name,
        values.function.as_str(),
        values.capacity,
        values.active,
        now,
    )
    .fetch_optional(conn)
    .await
}

/// Reads an advisor and locks it for a change in this transaction.
#[tracing::instrument(name = "SELECT intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "advisors", db.query.summary = "SELECT advisors case_openings"))]
pub async fn lock_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as!(
        AdvisorRow,
        r#"SELECT a.id AS "id: AdvisorId", a.team_id AS "team_id: TeamId", a.subject, a.display_name,
             a.function AS "function: AdvisorFunction", a.capacity, a.active, a.version,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!"
         FROM intake.advisors a WHERE a.id = $1 FOR UPDATE OF a"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// The advisor signing in as `subject`.
#[tracing::instrument(name = "SELECT intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "advisors", db.query.summary = "SELECT advisors case_openings"))]
pub async fn advisor_by_subject(
    conn: &mut PgConnection,
    subject: &str,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as!(
        AdvisorRow,
        r#"SELECT a.id AS "id: AdvisorId", a.team_id AS "team_id: TeamId", a.subject, a.display_name,
             a.function AS "function: AdvisorFunction", a.capacity, a.active, a.version,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!"
         FROM intake.advisors a WHERE a.subject = $1"#,
        subject
    )
    .fetch_optional(conn)
    .await
}

/// Writes new values; the caller holds the row's lock and checked the version.
#[tracing::instrument(name = "UPDATE intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "advisors", db.query.summary = "UPDATE advisors SELECT case_openings"))]
pub async fn update_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
    values: &AdvisorValues,
    now: DateTime<Utc>,
) -> Result<AdvisorRow, sqlx::Error> {
    sqlx::query_as!(
        AdvisorRow,
        r#"UPDATE intake.advisors AS a SET display_name = $2, function = $3, capacity = $4, active = $5,
             version = version + 1, updated_at = $6
         WHERE a.id = $1
         RETURNING a.id AS "id: AdvisorId", a.team_id AS "team_id: TeamId", a.subject, a.display_name,
             a.function AS "function: AdvisorFunction", a.capacity, a.active, a.version,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!""#,
        id.0,
        values.display_name,
        values.function.as_str(),
        values.capacity,
        values.active,
        now,
    )
    .fetch_one(conn)
    .await
}

/// A page of the team's advisors by name (then id), after the advisor `after`.
#[tracing::instrument(name = "SELECT intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "advisors", db.query.summary = "SELECT advisors case_openings"))]
pub async fn advisors_of_team(
    conn: &mut PgConnection,
    team: TeamId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AdvisorRow>, sqlx::Error> {
    sqlx::query_as!(
        AdvisorRow,
        r#"SELECT a.id AS "id: AdvisorId", a.team_id AS "team_id: TeamId", a.subject, a.display_name,
             a.function AS "function: AdvisorFunction", a.capacity, a.active, a.version,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!"
         FROM intake.advisors a
         WHERE a.team_id = $1
           AND ($2::uuid IS NULL
                OR (a.display_name, a.id) > (SELECT display_name, id FROM intake.advisors WHERE id = $2))
         ORDER BY a.display_name, a.id LIMIT $3"#,
        team.0,
        after,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One advisor with their caseload.
#[tracing::instrument(name = "SELECT intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "advisors", db.query.summary = "SELECT advisors case_openings"))]
pub async fn advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as!(
        AdvisorRow,
        r#"SELECT a.id AS "id: AdvisorId", a.team_id AS "team_id: TeamId", a.subject, a.display_name,
             a.function AS "function: AdvisorFunction", a.capacity, a.active, a.version,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!"
         FROM intake.advisors a WHERE a.id = $1"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// The team's loads, with the advisor rows locked so concurrent openings do not all pick the
/// same least-loaded advisor.
#[tracing::instrument(name = "SELECT intake.advisors", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "advisors", db.query.summary = "SELECT advisors case_openings"))]
pub async fn lock_team_loads(
    conn: &mut PgConnection,
    team: TeamId,
) -> Result<Vec<AdvisorLoad>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT a.id AS "id: AdvisorId", a.capacity, a.active,
             (SELECT count(*) FROM intake.case_openings c
              WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS "open_cases!"
         FROM intake.advisors a WHERE a.team_id = $1 ORDER BY a.id FOR UPDATE OF a"#,
        team.0
    )
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
