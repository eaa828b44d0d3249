//! Erasing a person's data at intake: names, facts, contact and every text they told the office
//! go; what the figures count (visit states and days, waiting times, decisions, same-day
//! consultations) stays, so the front desk's figures add up after a run.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{ApplicantId, CaseId};

/// Ended visits (consulted or closed) that led to no case and arrived before `cutoff`, not
/// erased yet, oldest first; with `only`, just that visit if it is one of them.
#[tracing::instrument(name = "SELECT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "visits", db.query.summary = "SELECT visits consultations case_openings"))]
pub async fn due_visits(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
    only: Option<Uuid>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT v.id FROM intake.visits v
         WHERE v.erased_at IS NULL AND v.arrived_at < $1 AND v.state IN ('CONSULTED', 'CLOSED')
           AND ($2::uuid IS NULL OR v.id = $2)
           AND NOT EXISTS (SELECT 1 FROM intake.consultations c
                           JOIN intake.case_openings o ON o.consultation_id = c.id
                           WHERE c.visit_id = v.id)
         ORDER BY v.arrived_at, v.id",
        cutoff,
        only,
    )
    .fetch_all(conn)
    .await
}

/// Applicants not erased yet with no change and no visit since `cutoff`, no visit or
/// consultation under way, and every case erased by case-plan, oldest first; with `only`, just
/// that applicant if it is one of them.
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants", db.query.summary = "SELECT applicants visits consultations case_openings"))]
pub async fn due_applicants(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
    only: Option<Uuid>,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT a.id FROM intake.applicants a
         WHERE a.erased_at IS NULL AND a.updated_at < $1
           AND ($2::uuid IS NULL OR a.id = $2)
           AND NOT EXISTS (SELECT 1 FROM intake.visits v WHERE v.applicant_id = a.id
                           AND (v.arrived_at >= $1 OR v.state NOT IN ('CONSULTED', 'CLOSED')))
           AND NOT EXISTS (SELECT 1 FROM intake.consultations c
                           WHERE c.applicant_id = a.id AND c.state = 'IN_PROGRESS')
           AND NOT EXISTS (SELECT 1 FROM intake.case_openings o
                           WHERE o.applicant_id = a.id AND o.erased_at IS NULL)
         ORDER BY a.updated_at, a.id",
        cutoff,
        only,
    )
    .fetch_all(conn)
    .await
}

/// Erases the texts of `visits`: the concern, the access check's notes, the consultation's
/// notes, steps and barriers. Decisions, states and times stay.
#[tracing::instrument(name = "UPDATE intake", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.query.summary = "UPDATE visits; UPDATE access_checks; UPDATE access_check_claims; UPDATE consultations"))]
pub async fn erase_visits(
    conn: &mut PgConnection,
    visits: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.visits SET concern = '',
             end_note = CASE WHEN end_note IS NULL THEN NULL ELSE '' END,
             erased_at = coalesce(erased_at, $2)
         WHERE id = ANY($1)",
        visits,
        at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE intake.access_checks SET emergency_note = '', forwarded_to = ''
         WHERE visit_id = ANY($1)",
        visits,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE intake.access_check_claims SET note = '' WHERE visit_id = ANY($1)",
        visits,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE intake.consultations SET notes = '', first_steps = '{}', self_help_options = '{}',
             office_offers = '{}', barriers = '{}'
         WHERE visit_id = ANY($1)",
        visits,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Erases applicant `id`: the person's record, household links and all their visits' texts.
#[tracing::instrument(name = "erase intake", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "erase", db.query.summary = "UPDATE applicants; DELETE household_links; SELECT visits; UPDATE visits; UPDATE access_checks; UPDATE access_check_claims; UPDATE consultations"))]
pub async fn erase_applicant(
    conn: &mut PgConnection,
    id: ApplicantId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let id = Uuid::from(id);
    sqlx::query!(
        "UPDATE intake.applicants SET given_name = '', family_name = '', family_key = '',
             given_key = '', birth_date = '1900-01-01', birth_date_precision = 'year',
             single_parent = NULL, children_ages = '{}', interpreter_language = '',
             address_street = NULL, address_extra_line = NULL, address_postal_code = NULL,
             address_city = NULL, no_fixed_abode = false, contact_street = NULL,
             contact_extra_line = NULL, contact_postal_code = NULL, contact_city = NULL,
             phone = '', email = '', preferred_channel = 'post', identity_document = NULL,
             identity_checked_by = NULL, identity_checked_at = NULL, residence_status = NULL,
             has_children = NULL, partner_in_household = NULL, erased_at = $2
         WHERE id = $1",
        id,
        at,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "DELETE FROM intake.household_links WHERE applicant_id = $1 OR member_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    let visits = sqlx::query_scalar!("SELECT id FROM intake.visits WHERE applicant_id = $1", id)
        .fetch_all(&mut *conn)
        .await?;
    erase_visits(conn, &visits, at).await
}

/// Notes that case-plan erased `case` (its `CaseErased` event).
#[tracing::instrument(name = "UPDATE intake.case_openings", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "case_openings"))]
pub async fn case_erased(
    conn: &mut PgConnection,
    case: CaseId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.case_openings SET erased_at = $2 WHERE case_id = $1 AND erased_at IS NULL",
        case.0,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
