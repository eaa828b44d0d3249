//! What is due in a team's (or one advisor's) cases on a given day, and the team's figures.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{AdvisorId, CaseOutcome, DueKind, TeamId};

/// One thing due.
#[derive(Debug, Clone)]
pub struct DueRow {
    /// The case.
    pub case_id: Uuid,
    /// The client's name.
    pub client_display_name: String,
    /// What is due.
    pub kind: DueKind,
    /// When.
    pub due_date: NaiveDate,
    /// The step or agreement; empty for the case.
    pub subject_id: String,
    /// What (the step's action).
    pub summary: String,
    /// The responsible advisor.
    pub responsible_advisor_id: Uuid,
}

/// Reviews due by `today`, planned steps past their day, agreements in force ending by
/// `expiring_by`, and follow-ups due by `today`, earliest first: `limit` of them after the first
/// `offset` (the list is computed, so a page is a stretch of it).
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases", db.query.summary = "SELECT cases plan_steps agreements"))]
pub async fn due(
    conn: &mut PgConnection,
    team: TeamId,
    responsible: Option<AdvisorId>,
    today: NaiveDate,
    expiring_by: NaiveDate,
    offset: i64,
    limit: i64,
) -> Result<Vec<DueRow>, sqlx::Error> {
    sqlx::query_as!(
        DueRow,
        r#"SELECT case_id AS "case_id!", client_display_name AS "client_display_name!",
               kind AS "kind!: DueKind", due_date AS "due_date!", subject_id AS "subject_id!",
               summary AS "summary!", responsible_advisor_id AS "responsible_advisor_id!"
           FROM (
               SELECT c.id AS case_id, c.client_display_name, 'review' AS kind,
                      c.next_review_date AS due_date, '' AS subject_id, '' AS summary,
                      c.responsible_advisor_id
               FROM caseplan.cases c
               WHERE c.team_id = $1 AND ($2::uuid IS NULL OR c.responsible_advisor_id = $2)
                 AND c.state = 'open' AND c.next_review_date <= $3
               UNION ALL
               SELECT c.id, c.client_display_name, 'step_overdue', s.due_date, s.id::text,
                      s.action, c.responsible_advisor_id
               FROM caseplan.cases c
               JOIN caseplan.plan_steps s ON s.case_id = c.id AND s.revision = c.plan_revision
               WHERE c.team_id = $1 AND ($2::uuid IS NULL OR c.responsible_advisor_id = $2)
                 AND c.state = 'open' AND s.status = 'planned' AND s.due_date < $3
               UNION ALL
               SELECT c.id, c.client_display_name, 'agreement_expiring', a.end_date, a.id::text,
                      '', c.responsible_advisor_id
               FROM caseplan.cases c JOIN caseplan.agreements a ON a.id = c.agreement_id
               WHERE c.team_id = $1 AND ($2::uuid IS NULL OR c.responsible_advisor_id = $2)
                 AND c.state = 'open' AND a.state = 'agreed' AND a.end_date BETWEEN $3 AND $4
               UNION ALL
               SELECT c.id, c.client_display_name, 'follow_up', c.follow_up_date, '', '',
                      c.responsible_advisor_id
               FROM caseplan.cases c
               WHERE c.team_id = $1 AND ($2::uuid IS NULL OR c.responsible_advisor_id = $2)
                 AND c.state = 'closed' AND c.followed_up_at IS NULL AND c.follow_up_date <= $3
           ) due
           ORDER BY due_date, case_id, kind, subject_id
           OFFSET $5 LIMIT $6"#,
        Uuid::from(team),
        responsible.map(Uuid::from),
        today,
        expiring_by,
        offset,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// A team's case figures over a range of office days.
#[derive(Debug)]
pub struct FiguresRow {
    /// Opened in the range.
    pub opened: i64,
    /// Closed in the range.
    pub closed: i64,
    /// Median days from opening to closure of those closed.
    pub median_case_days: Option<f64>,
    /// Opened in the range with an agreement agreed within the given days.
    pub opened_with_early_agreement: i64,
    /// Reviews recorded in the range.
    pub reviews: i64,
    /// Of those, on or before their due day (or with none due).
    pub reviews_on_time: i64,
    /// Follow-ups recorded in the range.
    pub follow_ups: i64,
    /// Of those, lasting.
    pub follow_ups_lasting: i64,
}

/// The team's figures from `start` to `end` (Europe/Berlin days, inclusive).
#[tracing::instrument(name = "SELECT caseplan", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.query.summary = "SELECT cases reviews agreements"))]
pub async fn figures(
    conn: &mut PgConnection,
    team: TeamId,
    start: NaiveDate,
    end: NaiveDate,
    agreement_within_days: i32,
) -> Result<FiguresRow, sqlx::Error> {
    sqlx::query_as!(
        FiguresRow,
        r#"WITH team_cases AS (
               SELECT * FROM caseplan.cases WHERE team_id = $1
           ), team_reviews AS (
               SELECT r.*, (r.created_at AT TIME ZONE 'Europe/Berlin')::date AS day
               FROM caseplan.reviews r JOIN team_cases c ON c.id = r.case_id
           )
           SELECT
             (SELECT count(*) FROM team_cases
              WHERE (opened_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3) AS "opened!",
             (SELECT count(*) FROM team_cases
              WHERE (closed_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3) AS "closed!",
             (SELECT percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY extract(epoch FROM closed_at - opened_at) / 86400)
              FROM team_cases
              WHERE (closed_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3)
                AS median_case_days,
             (SELECT count(*) FROM team_cases c
              WHERE (c.opened_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3
                AND EXISTS (SELECT 1 FROM caseplan.agreements a
                            WHERE a.case_id = c.id AND a.agreed_at IS NOT NULL
                              AND a.agreed_at <= c.opened_at + make_interval(days => $4)))
                AS "opened_with_early_agreement!",
             (SELECT count(*) FROM team_reviews WHERE day BETWEEN $2 AND $3) AS "reviews!",
             (SELECT count(*) FROM team_reviews
              WHERE day BETWEEN $2 AND $3 AND (due_date IS NULL OR day <= due_date))
                AS "reviews_on_time!",
             (SELECT count(*) FROM team_cases
              WHERE (followed_up_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3)
                AS "follow_ups!",
             (SELECT count(*) FROM team_cases
              WHERE (followed_up_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3
                AND follow_up_result = 'lasting') AS "follow_ups_lasting!""#,
        Uuid::from(team),
        start,
        end,
        agreement_within_days,
    )
    .fetch_one(conn)
    .await
}

/// Cases of the team closed in the range, by outcome.
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn closed_by_outcome(
    conn: &mut PgConnection,
    team: TeamId,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Vec<(CaseOutcome, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT closure_outcome AS "outcome!: CaseOutcome", count(*) AS "cases!"
           FROM caseplan.cases
           WHERE team_id = $1 AND (closed_at AT TIME ZONE 'Europe/Berlin')::date BETWEEN $2 AND $3
           GROUP BY closure_outcome ORDER BY closure_outcome"#,
        Uuid::from(team),
        start,
        end,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.outcome, r.cases)).collect())
}
