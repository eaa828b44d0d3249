//! Case openings (the hand-over to case-plan) and the team's figures.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::domain::{AdvisorId, ApplicantId, CaseId, ConsultationId, TeamId};

/// A case opening as stored.
#[derive(Debug, Clone)]
pub struct CaseOpeningRow {
    /// The new case.
    pub case_id: CaseId,
    /// The consultation it was opened from.
    pub consultation_id: ConsultationId,
    /// The client.
    pub applicant_id: ApplicantId,
    /// The team.
    pub team_id: TeamId,
    /// The responsible advisor.
    pub responsible_advisor_id: AdvisorId,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Whether the first consultation was on the day of arrival.
    pub same_day: bool,
}

/// The case opened from a consultation, if any.
#[tracing::instrument(name = "SELECT intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "case_openings"))]
pub async fn of_consultation(
    conn: &mut PgConnection,
    consultation: ConsultationId,
) -> Result<Option<CaseId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT case_id AS "case_id: CaseId" FROM intake.case_openings WHERE consultation_id = $1"#,
        consultation.0
    )
    .fetch_optional(conn)
    .await
}

/// The applicant's open case, if any.
#[tracing::instrument(name = "SELECT intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "case_openings"))]
pub async fn open_of_applicant(
    conn: &mut PgConnection,
    applicant: ApplicantId,
) -> Result<Option<CaseId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT case_id AS "case_id: CaseId" FROM intake.case_openings
           WHERE applicant_id = $1 AND closed_at IS NULL"#,
        applicant.0
    )
    .fetch_optional(conn)
    .await
}

/// Inserts a case opening unless the consultation has one or the applicant has an open case
/// (unique indexes decide, so concurrent openings cannot both win); whether it was inserted.
#[tracing::instrument(name = "INSERT intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "case_openings"))]
pub async fn insert(conn: &mut PgConnection, row: &CaseOpeningRow) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "INSERT INTO intake.case_openings (case_id, consultation_id, applicant_id, team_id, responsible_advisor_id, opened_at, same_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT DO NOTHING",
        row.case_id.0,
        row.consultation_id.0,
        row.applicant_id.0,
        row.team_id.0,
        row.responsible_advisor_id.0,
        row.opened_at,
        row.same_day,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a case closed (case-plan's CaseClosed); a case closed already stays as it was.
#[tracing::instrument(name = "UPDATE intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "case_openings"))]
pub async fn close(
    conn: &mut PgConnection,
    case: CaseId,
    closed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.case_openings SET closed_at = $2 WHERE case_id = $1 AND closed_at IS NULL",
        case.0,
        closed_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A team's figures over a range of office days.
#[derive(Debug)]
pub struct FiguresRow {
    /// Visits registered.
    pub visits: i64,
    /// Consultations started.
    pub consultations: i64,
    /// Of those, on the day of arrival.
    pub same_day: i64,
}

/// The team's visit and consultation counts from office day `first` to `last`, both included
/// (what became of the arrivals is [`arrivals`]).
#[tracing::instrument(name = "SELECT intake", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.query.summary = "SELECT consultations visits"))]
pub async fn team_figures(
    conn: &mut PgConnection,
    team: TeamId,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<FiguresRow, sqlx::Error> {
    sqlx::query_as!(
        FiguresRow,
        r#"SELECT
            (SELECT count(*) FROM intake.visits v WHERE v.team_id = $1 AND v.arrival_day BETWEEN $2 AND $3) AS "visits!",
            count(c.id) AS "consultations!",
            count(c.id) FILTER (WHERE c.same_day) AS "same_day!"
         FROM intake.consultations c
         WHERE c.team_id = $1 AND c.start_day BETWEEN $2 AND $3"#,
        team.0,
        first,
        last,
    )
    .fetch_one(conn)
    .await
}

/// What became of a team's arrivals in a range of office days.
#[derive(Debug)]
pub struct ArrivalsRow {
    /// Arrivals that needed a consultation.
    pub needing: i64,
    /// Of those, consulted on the day of arrival.
    pub consulted_same_day: i64,
    /// Of those, consulted on a later day.
    pub consulted_later: i64,
    /// Of those, who left or were left unseen.
    pub left_unseen: i64,
    /// Arrivals sent elsewhere or without need.
    pub sent_elsewhere: i64,
    /// Median minutes waited by everyone who waited: until the consultation started, or
    /// until they left or were sent on.
    pub median_wait_minutes: Option<f64>,
    /// 90th percentile of those minutes.
    pub p90_wait_minutes: Option<f64>,
}

/// What became of the team's arrivals from `first` to `last`: needing a consultation is every
/// arrival not ended as no need, priority provider or not locally responsible. Visits still
/// waiting count in no wait figure yet.
#[tracing::instrument(name = "SELECT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "visits", db.query.summary = "SELECT visits consultations"))]
pub async fn arrivals(
    conn: &mut PgConnection,
    team: TeamId,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<ArrivalsRow, sqlx::Error> {
    sqlx::query_as!(
        ArrivalsRow,
        r#"WITH arrivals AS (
               SELECT v.end_reason, c.same_day,
                      coalesce(v.end_reason IN ('priority_provider', 'no_need', 'not_locally_responsible'), false) AS elsewhere,
                      extract(epoch FROM coalesce(c.started_at, v.ended_at) - v.arrived_at) / 60 AS waited
               FROM intake.visits v LEFT JOIN intake.consultations c ON c.visit_id = v.id
               WHERE v.team_id = $1 AND v.arrival_day BETWEEN $2 AND $3
           )
           SELECT count(*) FILTER (WHERE NOT elsewhere) AS "needing!",
                  count(*) FILTER (WHERE NOT elsewhere AND same_day) AS "consulted_same_day!",
                  count(*) FILTER (WHERE NOT elsewhere AND NOT same_day) AS "consulted_later!",
                  count(*) FILTER (WHERE end_reason IN ('left', 'left_unseen')) AS "left_unseen!",
                  count(*) FILTER (WHERE elsewhere) AS "sent_elsewhere!",
                  (percentile_cont(0.5) WITHIN GROUP (ORDER BY waited))::float8 AS median_wait_minutes,
                  (percentile_cont(0.9) WITHIN GROUP (ORDER BY waited))::float8 AS p90_wait_minutes
           FROM arrivals"#,
        team.0,
        first,
        last,
    )
    .fetch_one(conn)
    .await
}

/// Counts a reopened case as open again, unless the client has another open case meanwhile
/// (case-plan refuses that, but an opening here may cross its event on the way).
#[tracing::instrument(name = "UPDATE intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "case_openings"))]
pub async fn reopen(conn: &mut PgConnection, case: CaseId) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.case_openings o SET closed_at = NULL
         WHERE o.case_id = $1 AND NOT EXISTS (
             SELECT 1 FROM intake.case_openings other
             WHERE other.applicant_id = o.applicant_id AND other.closed_at IS NULL)",
        case.0,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves a case to another responsible advisor's caseload.
#[tracing::instrument(name = "UPDATE intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "case_openings"))]
pub async fn reassign(
    conn: &mut PgConnection,
    case: CaseId,
    advisor: AdvisorId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.case_openings SET responsible_advisor_id = $2 WHERE case_id = $1",
        case.0,
        advisor.0,
    )
    .execute(conn)
    .await?;
    Ok(())
}
