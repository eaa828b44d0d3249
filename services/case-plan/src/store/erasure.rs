//! Erasing a case's personal data: every text and fact about the client goes; what the
//! figures count (states, days, outcomes, ids) stays, so team figures add up after a run.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{ApplicantId, CaseId};

/// Closed cases without a legal hold, not erased yet, whose follow-up (the later of its due day
/// and the day it was recorded) lies before `before`, oldest first.
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn due_cases(
    conn: &mut PgConnection,
    before: NaiveDate,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM caseplan.cases
         WHERE state = 'closed' AND erased_at IS NULL AND legal_hold_at IS NULL
           AND GREATEST(follow_up_date, (followed_up_at AT TIME ZONE 'Europe/Berlin')::date) < $1
         ORDER BY follow_up_date, id",
        before,
    )
    .fetch_all(conn)
    .await
}

/// The cases of `applicant` not erased yet.
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn cases_of(
    conn: &mut PgConnection,
    applicant: ApplicantId,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM caseplan.cases WHERE applicant_id = $1 AND erased_at IS NULL ORDER BY id",
        Uuid::from(applicant),
    )
    .fetch_all(conn)
    .await
}

/// Erases case `id` if it is closed, not held and not erased (and, with `before`, its
/// follow-up lies before that day); its applicant when it did.
#[tracing::instrument(name = "UPDATE caseplan", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.query.summary = "UPDATE cases; UPDATE plan_goals; UPDATE plan_steps; UPDATE agreement_comments SELECT agreements; UPDATE agreements; UPDATE review_goals SELECT reviews; UPDATE reviews; UPDATE timeline"))]
pub async fn erase_case(
    conn: &mut PgConnection,
    id: CaseId,
    before: Option<NaiveDate>,
    at: DateTime<Utc>,
) -> Result<Option<ApplicantId>, sqlx::Error> {
    let id = Uuid::from(id);
    let Some(applicant) = sqlx::query_scalar!(
        "UPDATE caseplan.cases SET
             client_display_name = '', client_birth_date = '1900-01-01',
             client_birth_date_precision = 'year', client_interpreter_language = '',
             client_single_parent = false, client_youngest_child_age = NULL,
             first_steps = '{}', self_help_options = '{}', office_offers = '{}', barriers = '{}',
             closure_note = CASE WHEN closure_note IS NULL THEN NULL ELSE '' END,
             follow_up_note = CASE WHEN follow_up_note IS NULL THEN NULL ELSE '' END,
             erased_at = $3
         WHERE id = $1 AND state = 'closed' AND erased_at IS NULL AND legal_hold_at IS NULL
           AND ($2::date IS NULL OR
                GREATEST(follow_up_date, (followed_up_at AT TIME ZONE 'Europe/Berlin')::date) < $2)
         RETURNING applicant_id",
        id,
        before,
        at,
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    sqlx::query!(
        "UPDATE caseplan.plan_goals SET own_words = '' WHERE case_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.plan_steps SET action = '' WHERE case_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.agreement_comments SET text = ''
         WHERE agreement_id IN (SELECT a.id FROM caseplan.agreements a WHERE a.case_id = $1)",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.agreements SET text = '',
             decline_reason = CASE WHEN decline_reason IS NULL THEN NULL ELSE '' END,
             dispute_objection = CASE WHEN dispute_objection IS NULL THEN NULL ELSE '' END,
             dispute_resolution = CASE WHEN dispute_resolution IS NULL THEN NULL ELSE '' END
         WHERE case_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.review_goals SET note = ''
         WHERE review_id IN (SELECT r.id FROM caseplan.reviews r WHERE r.case_id = $1)",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.reviews SET notes = '' WHERE case_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.timeline SET summary = '' WHERE case_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    Ok(Some(ApplicantId(applicant)))
}
