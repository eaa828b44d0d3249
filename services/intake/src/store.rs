//! intake's SQL, and nothing else: every statement against the `intake` schema lives here.
//! Functions take a connection so callers decide the transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::domain::{
    AdvisorId, AdvisorLoad, ApplicantId, CaseId, ConsultationId, TeamId, VisitId, VisitState,
};

/// An applicant as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ApplicantRow {
    pub id: ApplicantId,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub single_parent: bool,
    pub children_ages: Vec<i32>,
    pub interpreter_language: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The identity and household values written on create and update.
#[derive(Debug, Clone)]
pub struct ApplicantValues {
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub single_parent: bool,
    pub children_ages: Vec<i32>,
    pub interpreter_language: String,
}

const APPLICANT_COLUMNS: &str = "id, given_name, family_name, birth_date, single_parent, children_ages, interpreter_language, version, created_at, updated_at";

pub async fn insert_applicant(
    conn: &mut PgConnection,
    id: ApplicantId,
    values: &ApplicantValues,
    family_key: &str,
    given_key: &str,
    now: DateTime<Utc>,
) -> Result<ApplicantRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO intake.applicants (id, given_name, family_name, family_key, given_key, birth_date,
             single_parent, children_ages, interpreter_language, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         RETURNING {APPLICANT_COLUMNS}"
    )))
    .bind(id)
    .bind(&values.given_name)
    .bind(&values.family_name)
    .bind(family_key)
    .bind(given_key)
    .bind(values.birth_date)
    .bind(values.single_parent)
    .bind(&values.children_ages)
    .bind(&values.interpreter_language)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Applicants with the same folded names and date of birth.
pub async fn likely_duplicates(
    conn: &mut PgConnection,
    family_key: &str,
    given_key: &str,
    birth_date: NaiveDate,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM intake.applicants
         WHERE family_key = $1 AND birth_date = $2 AND given_key = $3
         ORDER BY id LIMIT 10",
    )
    .bind(family_key)
    .bind(birth_date)
    .bind(given_key)
    .fetch_all(conn)
    .await
}

pub async fn applicant_exists(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM intake.applicants WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

pub async fn get_applicant(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<Option<ApplicantRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPLICANT_COLUMNS} FROM intake.applicants WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Search criteria; empty prefixes match all.
#[derive(Debug)]
pub struct ApplicantSearch {
    pub family_prefix: String,
    pub given_prefix: String,
    pub birth_date: Option<NaiveDate>,
    pub after: Option<ApplicantId>,
    pub limit: i64,
}

pub async fn search_applicants(
    conn: &mut PgConnection,
    search: &ApplicantSearch,
) -> Result<Vec<ApplicantRow>, sqlx::Error> {
    // Keyset pagination on the index order (family_key, given_key, id); the page token is the
    // last id of the previous page.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPLICANT_COLUMNS} FROM intake.applicants a
         WHERE a.family_key LIKE $1 || '%' AND a.given_key LIKE $2 || '%'
           AND ($3::date IS NULL OR a.birth_date = $3)
           AND ($4::uuid IS NULL OR (a.family_key, a.given_key, a.id) >
                (SELECT family_key, given_key, id FROM intake.applicants WHERE id = $4))
         ORDER BY a.family_key, a.given_key, a.id
         LIMIT $5"
    )))
    .bind(escape_like(&search.family_prefix))
    .bind(escape_like(&search.given_prefix))
    .bind(search.birth_date)
    .bind(search.after)
    .bind(search.limit)
    .fetch_all(conn)
    .await
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Writes new values if `expected_version` is still current; `None` when it is not (or the
/// applicant does not exist).
pub async fn update_applicant(
    conn: &mut PgConnection,
    id: ApplicantId,
    expected_version: i32,
    values: &ApplicantValues,
    family_key: &str,
    given_key: &str,
    now: DateTime<Utc>,
) -> Result<Option<ApplicantRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE intake.applicants SET given_name = $3, family_name = $4, family_key = $5, given_key = $6,
             birth_date = $7, single_parent = $8, children_ages = $9, interpreter_language = $10,
             version = version + 1, updated_at = $11
         WHERE id = $1 AND version = $2
         RETURNING {APPLICANT_COLUMNS}"
    )))
    .bind(id)
    .bind(expected_version)
    .bind(&values.given_name)
    .bind(&values.family_name)
    .bind(family_key)
    .bind(given_key)
    .bind(values.birth_date)
    .bind(values.single_parent)
    .bind(&values.children_ages)
    .bind(&values.interpreter_language)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// A visit as stored, with the id of its consultation if one started.
#[derive(Debug, Clone, FromRow)]
pub struct VisitRow {
    pub id: VisitId,
    pub applicant_id: ApplicantId,
    pub team_id: TeamId,
    pub arrived_at: DateTime<Utc>,
    pub concern: String,
    #[sqlx(try_from = "String")]
    pub state: VisitState,
    pub consultation_id: Option<Uuid>,
}

const VISIT_SELECT: &str = "SELECT v.id, v.applicant_id, v.team_id, v.arrived_at, v.concern, v.state, c.id AS consultation_id
     FROM intake.visits v LEFT JOIN intake.consultations c ON c.visit_id = v.id";

/// A visit as registered.
#[derive(Debug)]
pub struct NewVisit<'a> {
    pub id: VisitId,
    pub applicant: ApplicantId,
    pub team: TeamId,
    pub arrived_at: DateTime<Utc>,
    pub arrival_day: NaiveDate,
    pub concern: &'a str,
    pub registered_by: &'a str,
}

pub async fn insert_visit(
    conn: &mut PgConnection,
    visit: &NewVisit<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.visits (id, applicant_id, team_id, arrived_at, arrival_day, concern, state, registered_by)
         VALUES ($1, $2, $3, $4, $5, $6, 'WAITING', $7)",
    )
    .bind(visit.id)
    .bind(visit.applicant)
    .bind(visit.team)
    .bind(visit.arrived_at)
    .bind(visit.arrival_day)
    .bind(visit.concern)
    .bind(visit.registered_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_visit(
    conn: &mut PgConnection,
    id: VisitId,
) -> Result<Option<VisitRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{VISIT_SELECT} WHERE v.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Locks the visit row for a state change in this transaction.
pub async fn lock_visit(
    conn: &mut PgConnection,
    id: VisitId,
) -> Result<Option<VisitRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{VISIT_SELECT} WHERE v.id = $1 FOR UPDATE OF v"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn set_visit_state(
    conn: &mut PgConnection,
    id: VisitId,
    state: VisitState,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE intake.visits SET state = $2 WHERE id = $1")
        .bind(id)
        .bind(state.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// A queue entry: a waiting visit with the name to call out.
#[derive(Debug, FromRow)]
pub struct QueueRow {
    #[sqlx(flatten)]
    pub visit: VisitRow,
    pub given_name: String,
    pub family_name: String,
}

pub async fn waiting_queue(
    conn: &mut PgConnection,
    team: TeamId,
    day: NaiveDate,
) -> Result<Vec<QueueRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT v.id, v.applicant_id, v.team_id, v.arrived_at, v.concern, v.state, NULL::uuid AS consultation_id,
                a.given_name, a.family_name
         FROM intake.visits v JOIN intake.applicants a ON a.id = v.applicant_id
         WHERE v.team_id = $1 AND v.arrival_day = $2 AND v.state IN ('WAITING', 'READY_FOR_CONSULTATION')
         ORDER BY v.arrived_at, v.id",
    )
    .bind(team)
    .bind(day)
    .fetch_all(conn)
    .await
}

pub async fn visits_of_applicant(
    conn: &mut PgConnection,
    applicant: ApplicantId,
    team: TeamId,
    before: Option<VisitId>,
    limit: i64,
) -> Result<Vec<VisitRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{VISIT_SELECT}
         WHERE v.applicant_id = $1 AND v.team_id = $2
           AND ($3::uuid IS NULL OR (v.arrived_at, v.id) < (SELECT arrived_at, id FROM intake.visits WHERE id = $3))
         ORDER BY v.arrived_at DESC, v.id DESC
         LIMIT $4"
    )))
    .bind(applicant)
    .bind(team)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// An access check as stored.
#[derive(Debug, Clone, FromRow)]
pub struct AccessCheckRow {
    pub visit_id: VisitId,
    pub emergency_need: bool,
    pub emergency_note: String,
    pub decision: String,
    pub checked_by: String,
    pub checked_at: DateTime<Utc>,
}

/// One checked claim as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimRow {
    pub visit_id: VisitId,
    pub claim: String,
    pub outcome: String,
    pub note: String,
}

pub async fn insert_access_check(
    conn: &mut PgConnection,
    check: &AccessCheckRow,
    claims: &[ClaimRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.access_checks (visit_id, emergency_need, emergency_note, decision, checked_by, checked_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(check.visit_id)
    .bind(check.emergency_need)
    .bind(&check.emergency_note)
    .bind(&check.decision)
    .bind(&check.checked_by)
    .bind(check.checked_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO intake.access_check_claims (visit_id, claim, outcome, note)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])",
    )
    .bind(check.visit_id)
    .bind(claims.iter().map(|c| c.claim.clone()).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.outcome.clone()).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.note.clone()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// The access checks of `visits`, with their claims, by visit.
pub async fn access_checks(
    conn: &mut PgConnection,
    visits: &[VisitId],
) -> Result<HashMap<VisitId, (AccessCheckRow, Vec<ClaimRow>)>, sqlx::Error> {
    let ids: Vec<Uuid> = visits.iter().map(|v| v.0).collect();
    let checks: Vec<AccessCheckRow> = sqlx::query_as(
        "SELECT visit_id, emergency_need, emergency_note, decision, checked_by, checked_at
         FROM intake.access_checks WHERE visit_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let claims: Vec<ClaimRow> = sqlx::query_as(
        "SELECT visit_id, claim, outcome, note FROM intake.access_check_claims
         WHERE visit_id = ANY($1) ORDER BY claim",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    let mut by_visit: HashMap<VisitId, (AccessCheckRow, Vec<ClaimRow>)> = checks
        .into_iter()
        .map(|c| (c.visit_id, (c, Vec::new())))
        .collect();
    for claim in claims {
        if let Some((_, list)) = by_visit.get_mut(&claim.visit_id) {
            list.push(claim);
        }
    }
    Ok(by_visit)
}

/// A consultation as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ConsultationRow {
    pub id: ConsultationId,
    pub visit_id: VisitId,
    pub applicant_id: ApplicantId,
    pub team_id: TeamId,
    pub advisor_id: AdvisorId,
    pub state: String,
    pub started_at: DateTime<Utc>,
    pub same_day: bool,
    pub completed_at: Option<DateTime<Utc>>,
    pub first_steps: Vec<String>,
    pub self_help_options: Vec<String>,
    pub office_offers: Vec<String>,
    pub capacity_to_work: Option<String>,
    pub activation_track: Option<String>,
    pub barriers: Vec<String>,
    pub notes: String,
}

const CONSULTATION_COLUMNS: &str = "id, visit_id, applicant_id, team_id, advisor_id, state, started_at, same_day, completed_at,
     first_steps, self_help_options, office_offers, capacity_to_work, activation_track, barriers, notes";

pub async fn insert_consultation(
    conn: &mut PgConnection,
    id: ConsultationId,
    visit: &VisitRow,
    advisor: AdvisorId,
    started_at: DateTime<Utc>,
    start_day: NaiveDate,
    same_day: bool,
) -> Result<ConsultationRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO intake.consultations (id, visit_id, applicant_id, team_id, advisor_id, state, started_at, start_day, same_day)
         VALUES ($1, $2, $3, $4, $5, 'IN_PROGRESS', $6, $7, $8)
         RETURNING {CONSULTATION_COLUMNS}"
    )))
    .bind(id)
    .bind(visit.id)
    .bind(visit.applicant_id)
    .bind(visit.team_id)
    .bind(advisor)
    .bind(started_at)
    .bind(start_day)
    .bind(same_day)
    .fetch_one(conn)
    .await
}

/// Reads a consultation; `lock` takes a row lock for a state change.
pub async fn get_consultation(
    conn: &mut PgConnection,
    id: ConsultationId,
    lock: bool,
) -> Result<Option<ConsultationRow>, sqlx::Error> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CONSULTATION_COLUMNS} FROM intake.consultations WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The content written when a consultation completes.
#[derive(Debug, Clone)]
pub struct ConsultationContent {
    pub first_steps: Vec<String>,
    pub self_help_options: Vec<String>,
    pub office_offers: Vec<String>,
    pub capacity_to_work: String,
    pub activation_track: String,
    pub barriers: Vec<String>,
    pub notes: String,
}

pub async fn complete_consultation(
    conn: &mut PgConnection,
    id: ConsultationId,
    content: &ConsultationContent,
    completed_at: DateTime<Utc>,
) -> Result<ConsultationRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE intake.consultations SET state = 'COMPLETED', completed_at = $2, first_steps = $3,
             self_help_options = $4, office_offers = $5, capacity_to_work = $6, activation_track = $7,
             barriers = $8, notes = $9
         WHERE id = $1
         RETURNING {CONSULTATION_COLUMNS}"
    )))
    .bind(id)
    .bind(completed_at)
    .bind(&content.first_steps)
    .bind(&content.self_help_options)
    .bind(&content.office_offers)
    .bind(&content.capacity_to_work)
    .bind(&content.activation_track)
    .bind(&content.barriers)
    .bind(&content.notes)
    .fetch_one(conn)
    .await
}

/// A team as stored.
#[derive(Debug, Clone, FromRow)]
pub struct TeamRow {
    pub id: TeamId,
    pub display_name: String,
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

pub async fn list_teams(conn: &mut PgConnection) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, display_name, created_at FROM intake.teams ORDER BY display_name")
        .fetch_all(conn)
        .await
}

pub async fn team_exists(conn: &mut PgConnection, id: TeamId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM intake.teams WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// An advisor as stored, with the open cases they carry.
#[derive(Debug, Clone, FromRow)]
pub struct AdvisorRow {
    pub id: AdvisorId,
    pub team_id: TeamId,
    pub subject: String,
    pub display_name: String,
    pub function: String,
    pub capacity: i32,
    pub active: bool,
    pub version: i32,
    pub open_cases: i64,
}

const ADVISOR_SELECT: &str = "SELECT a.id, a.team_id, a.subject, a.display_name, a.function, a.capacity, a.active, a.version,
         (SELECT count(*) FROM intake.case_openings c WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL) AS open_cases
     FROM intake.advisors a";

/// The values of an advisor written on create and update.
#[derive(Debug, Clone)]
pub struct AdvisorValues {
    pub display_name: String,
    pub function: String,
    pub capacity: i32,
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
) -> Result<Option<AdvisorId>, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO intake.advisors (id, team_id, subject, display_name, function, capacity, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (subject) DO NOTHING
         RETURNING id",
    )
    .bind(id)
    .bind(team)
    .bind(subject)
    .bind(&values.display_name)
    .bind(&values.function)
    .bind(values.capacity)
    .bind(values.active)
    .bind(now)
    .fetch_optional(conn)
    .await
}

pub async fn get_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ADVISOR_SELECT} WHERE a.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn advisor_by_subject(
    conn: &mut PgConnection,
    subject: &str,
) -> Result<Option<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ADVISOR_SELECT} WHERE a.subject = $1"
    )))
    .bind(subject)
    .fetch_optional(conn)
    .await
}

/// Writes new values if `expected_version` is current; `false` when it is not.
pub async fn update_advisor(
    conn: &mut PgConnection,
    id: AdvisorId,
    expected_version: i32,
    values: &AdvisorValues,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "UPDATE intake.advisors SET display_name = $3, function = $4, capacity = $5, active = $6,
             version = version + 1, updated_at = $7
         WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(expected_version)
    .bind(&values.display_name)
    .bind(&values.function)
    .bind(values.capacity)
    .bind(values.active)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub async fn advisors_of_team(
    conn: &mut PgConnection,
    team: TeamId,
) -> Result<Vec<AdvisorRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ADVISOR_SELECT} WHERE a.team_id = $1 ORDER BY a.display_name, a.id"
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
    let rows: Vec<(AdvisorId, i64, i32, bool)> = sqlx::query_as(
        "SELECT a.id,
                (SELECT count(*) FROM intake.case_openings c WHERE c.responsible_advisor_id = a.id AND c.closed_at IS NULL),
                a.capacity, a.active
         FROM intake.advisors a WHERE a.team_id = $1
         ORDER BY a.id
         FOR UPDATE OF a",
    )
    .bind(team)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(advisor, open_cases, capacity, active)| AdvisorLoad {
            advisor,
            open_cases,
            capacity: i64::from(capacity),
            active,
        })
        .collect())
}

/// A case opening as stored.
#[derive(Debug, Clone, FromRow)]
pub struct CaseOpeningRow {
    pub case_id: CaseId,
    pub consultation_id: ConsultationId,
    pub applicant_id: ApplicantId,
    pub team_id: TeamId,
    pub responsible_advisor_id: AdvisorId,
    pub opened_at: DateTime<Utc>,
    pub same_day: bool,
}

pub async fn case_of_consultation(
    conn: &mut PgConnection,
    consultation: ConsultationId,
) -> Result<Option<CaseId>, sqlx::Error> {
    sqlx::query_scalar("SELECT case_id FROM intake.case_openings WHERE consultation_id = $1")
        .bind(consultation)
        .fetch_optional(conn)
        .await
}

pub async fn insert_case_opening(
    conn: &mut PgConnection,
    row: &CaseOpeningRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake.case_openings (case_id, consultation_id, applicant_id, team_id, responsible_advisor_id, opened_at, same_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(row.case_id)
    .bind(row.consultation_id)
    .bind(row.applicant_id)
    .bind(row.team_id)
    .bind(row.responsible_advisor_id)
    .bind(row.opened_at)
    .bind(row.same_day)
    .execute(conn)
    .await?;
    Ok(())
}

/// A team's figures over a range of office days.
#[derive(Debug, FromRow)]
pub struct FiguresRow {
    pub visits: i64,
    pub consultations: i64,
    pub same_day: i64,
    pub median_wait_minutes: Option<f64>,
    pub p90_wait_minutes: Option<f64>,
}

pub async fn team_figures(
    conn: &mut PgConnection,
    team: TeamId,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<FiguresRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT
            (SELECT count(*) FROM intake.visits v WHERE v.team_id = $1 AND v.arrival_day BETWEEN $2 AND $3) AS visits,
            count(c.id) AS consultations,
            count(c.id) FILTER (WHERE c.same_day) AS same_day,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.started_at - v.arrived_at) / 60)::float8 AS median_wait_minutes,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.started_at - v.arrived_at) / 60)::float8 AS p90_wait_minutes
         FROM intake.consultations c JOIN intake.visits v ON v.id = c.visit_id
         WHERE c.team_id = $1 AND c.start_day BETWEEN $2 AND $3",
    )
    .bind(team)
    .bind(first)
    .bind(last)
    .fetch_one(conn)
    .await
}
