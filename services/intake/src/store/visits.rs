//! Visits, their access checks, and the day's waiting queue.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    AccessCheck, AccessDecision, ApplicantId, ClaimCheck, ClaimOutcome, PriorityClaim, TeamId,
    VisitEndReason, VisitId, VisitKind, VisitState,
};

/// A visit as stored, with the id of its consultation if one started.
#[derive(Debug, Clone)]
pub struct VisitRow {
    /// Id.
    pub id: VisitId,
    /// Who came.
    pub applicant_id: ApplicantId,
    /// The team whose desk registered the visit.
    pub team_id: TeamId,
    /// Arrival.
    pub arrived_at: DateTime<Utc>,
    /// The person's concern in their words.
    pub concern: String,
    /// Where the visit stands.
    pub state: VisitState,
    /// Its first consultation, once started.
    pub consultation_id: Option<Uuid>,
    /// Why it ended without a consultation.
    pub end_reason: Option<VisitEndReason>,
    /// When it ended so.
    pub ended_at: Option<DateTime<Utc>>,
    /// Where the person was sent, or a remark.
    pub end_note: Option<String>,
    /// How the person came.
    pub kind: VisitKind,
}

/// A visit as registered.
#[derive(Debug)]
pub struct NewVisit<'a> {
    /// Id.
    pub id: VisitId,
    /// Who came.
    pub applicant: ApplicantId,
    /// The team.
    pub team: TeamId,
    /// Arrival.
    pub arrived_at: DateTime<Utc>,
    /// The office day of arrival.
    pub arrival_day: NaiveDate,
    /// The concern.
    pub concern: &'a str,
    /// Who registered it.
    pub registered_by: &'a str,
    /// How the person came.
    pub kind: VisitKind,
}

/// Inserts a new visit, waiting, if its applicant (not erased) and its team exist; whether it
/// did. One statement where the checks and the insert took three round trips: RegisterVisit is
/// the front desk's busiest write.
#[tracing::instrument(name = "INSERT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "visits", db.query.summary = "INSERT visits SELECT applicants teams"))]
pub async fn insert_if_known(
    conn: &mut PgConnection,
    visit: &NewVisit<'_>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO intake.visits (id, applicant_id, team_id, arrived_at, arrival_day, concern, state, registered_by, kind)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
         WHERE EXISTS (SELECT 1 FROM intake.applicants WHERE id = $2 AND erased_at IS NULL)
           AND EXISTS (SELECT 1 FROM intake.teams WHERE id = $3)",
        visit.id.0,
        visit.applicant.0,
        visit.team.0,
        visit.arrived_at,
        visit.arrival_day,
        visit.concern,
        VisitState::Waiting.as_str(),
        visit.registered_by,
        visit.kind.as_str(),
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Reads a visit.
#[tracing::instrument(name = "SELECT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "visits", db.query.summary = "SELECT visits consultations"))]
pub async fn get(conn: &mut PgConnection, id: VisitId) -> Result<Option<VisitRow>, sqlx::Error> {
    sqlx::query_as!(
        VisitRow,
        r#"SELECT v.id AS "id: VisitId", v.applicant_id AS "applicant_id: ApplicantId",
             v.team_id AS "team_id: TeamId", v.arrived_at, v.concern, v.state AS "state: VisitState",
             c.id AS "consultation_id?", v.end_reason AS "end_reason: VisitEndReason", v.ended_at,
             v.end_note, v.kind AS "kind: VisitKind"
         FROM intake.visits v LEFT JOIN intake.consultations c ON c.visit_id = v.id
         WHERE v.id = $1"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// Reads a visit and locks it for a state change in this transaction.
#[tracing::instrument(name = "SELECT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "visits", db.query.summary = "SELECT visits consultations"))]
pub async fn lock(conn: &mut PgConnection, id: VisitId) -> Result<Option<VisitRow>, sqlx::Error> {
    sqlx::query_as!(
        VisitRow,
        r#"SELECT v.id AS "id: VisitId", v.applicant_id AS "applicant_id: ApplicantId",
             v.team_id AS "team_id: TeamId", v.arrived_at, v.concern, v.state AS "state: VisitState",
             c.id AS "consultation_id?", v.end_reason AS "end_reason: VisitEndReason", v.ended_at,
             v.end_note, v.kind AS "kind: VisitKind"
         FROM intake.visits v LEFT JOIN intake.consultations c ON c.visit_id = v.id
         WHERE v.id = $1 FOR UPDATE OF v"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// Moves a visit to `state`.
#[tracing::instrument(name = "UPDATE intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "visits"))]
pub async fn set_state(
    conn: &mut PgConnection,
    id: VisitId,
    state: VisitState,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.visits SET state = $2 WHERE id = $1",
        id.0,
        state.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends a waiting visit without a consultation.
#[tracing::instrument(name = "UPDATE intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "visits"))]
pub async fn end(
    conn: &mut PgConnection,
    id: VisitId,
    reason: VisitEndReason,
    note: Option<&str>,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE intake.visits SET state = $2, end_reason = $3, end_note = $4, ended_at = $5,
             ended_by = $6
         WHERE id = $1",
        id.0,
        VisitState::Closed.as_str(),
        reason.as_str(),
        note,
        at,
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends as left unseen every visit of an office day before `today` that still waits and
/// arrived more than 12 hours before `at` (a consultation running past midnight is not cut
/// off); the visits ended, with their team.
#[tracing::instrument(name = "UPDATE intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "visits"))]
pub async fn end_stale(
    conn: &mut PgConnection,
    today: NaiveDate,
    at: DateTime<Utc>,
) -> Result<Vec<(VisitId, TeamId)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"UPDATE intake.visits SET state = $2, end_reason = $3, ended_at = $4, ended_by = 'system'
           WHERE arrival_day < $1 AND state IN ($5, $6) AND arrived_at < $4::timestamptz - interval '12 hours'
           RETURNING id AS "id: VisitId", team_id AS "team_id: TeamId""#,
        today,
        VisitState::Closed.as_str(),
        VisitEndReason::LeftUnseen.as_str(),
        at,
        VisitState::Waiting.as_str(),
        VisitState::ReadyForConsultation.as_str(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.team_id)).collect())
}

/// A queue entry: a waiting visit with the name to call out.
#[derive(Debug)]
pub struct QueueRow {
    /// The visit.
    pub visit: VisitRow,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// The access check found an emergency need.
    pub emergency_need: bool,
    /// Language needing an interpreter, or empty.
    pub interpreter_language: String,
}

/// The team's visits of `day` still waiting for their access check or consultation:
/// emergencies first, then those needing an interpreter, each in order of arrival.
#[tracing::instrument(name = "SELECT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "visits", db.query.summary = "SELECT visits applicants access_checks"))]
pub async fn waiting_queue(
    conn: &mut PgConnection,
    team: TeamId,
    day: NaiveDate,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<QueueRow>, sqlx::Error> {
    // The calling order as one ascending key, so a page starts after the previous page's last
    // visit (found among the day's visits even when it has left the queue since).
    let rows = sqlx::query!(
        r#"WITH day AS (
             SELECT v.id, v.applicant_id, v.team_id, v.arrived_at, v.concern, v.state, v.kind,
                  a.given_name, a.family_name, a.interpreter_language,
                  coalesce(ac.emergency_need, false) AS emergency_need,
                  NOT coalesce(ac.emergency_need, false) AS emergency_last,
                  a.interpreter_language = '' AS interpreter_last
             FROM intake.visits v JOIN intake.applicants a ON a.id = v.applicant_id
             LEFT JOIN intake.access_checks ac ON ac.visit_id = v.id
             WHERE v.team_id = $1 AND v.arrival_day = $2
         )
         SELECT id AS "id!: VisitId", applicant_id AS "applicant_id!: ApplicantId",
             team_id AS "team_id!: TeamId", arrived_at AS "arrived_at!", concern AS "concern!",
             state AS "state!: VisitState", kind AS "kind!: VisitKind", given_name AS "given_name!",
             family_name AS "family_name!", interpreter_language AS "interpreter_language!",
             emergency_need AS "emergency_need!"
         FROM day
         WHERE state IN ($3, $4)
           AND ($5::uuid IS NULL OR (emergency_last, interpreter_last, arrived_at, id)
                > (SELECT emergency_last, interpreter_last, arrived_at, id FROM day WHERE id = $5))
         ORDER BY emergency_last, interpreter_last, arrived_at, id
         LIMIT $6"#,
        team.0,
        day,
        VisitState::Waiting.as_str(),
        VisitState::ReadyForConsultation.as_str(),
        after,
        limit,
    )
    .fetch_all(conn)
    .await?;
    // Neither state has a consultation or an ending yet.
    Ok(rows
        .into_iter()
        .map(|r| QueueRow {
            visit: VisitRow {
                id: r.id,
                applicant_id: r.applicant_id,
                team_id: r.team_id,
                arrived_at: r.arrived_at,
                concern: r.concern,
                state: r.state,
                consultation_id: None,
                end_reason: None,
                ended_at: None,
                end_note: None,
                kind: r.kind,
            },
            given_name: r.given_name,
            family_name: r.family_name,
            emergency_need: r.emergency_need,
            interpreter_language: r.interpreter_language,
        })
        .collect())
}

/// A person's visits to `team`, newest first, after the keyset position `before`.
#[tracing::instrument(name = "SELECT intake.visits", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "visits", db.query.summary = "SELECT visits consultations"))]
pub async fn of_applicant(
    conn: &mut PgConnection,
    applicant: ApplicantId,
    team: Option<TeamId>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<VisitRow>, sqlx::Error> {
    sqlx::query_as!(
        VisitRow,
        r#"SELECT v.id AS "id: VisitId", v.applicant_id AS "applicant_id: ApplicantId",
             v.team_id AS "team_id: TeamId", v.arrived_at, v.concern, v.state AS "state: VisitState",
             c.id AS "consultation_id?", v.end_reason AS "end_reason: VisitEndReason", v.ended_at,
             v.end_note, v.kind AS "kind: VisitKind"
         FROM intake.visits v LEFT JOIN intake.consultations c ON c.visit_id = v.id
         WHERE v.applicant_id = $1 AND ($2::uuid IS NULL OR v.team_id = $2)
           AND ($3::uuid IS NULL OR (v.arrived_at, v.id) < (SELECT arrived_at, id FROM intake.visits WHERE id = $3))
         ORDER BY v.arrived_at DESC, v.id DESC
         LIMIT $4"#,
        applicant.0,
        team.map(|t| t.0),
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// An access check as recorded, with who did it and when.
#[derive(Debug, Clone)]
pub struct AccessCheckRecord {
    /// The check.
    pub check: AccessCheck,
    /// Subject of the staff member.
    pub checked_by: String,
    /// When.
    pub checked_at: DateTime<Utc>,
}

/// Inserts the access check of `visit` with its claims.
#[tracing::instrument(name = "INSERT intake.access_checks", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "access_checks", db.query.summary = "INSERT access_checks; INSERT access_check_claims"))]
pub async fn insert_access_check(
    conn: &mut PgConnection,
    visit: VisitId,
    record: &AccessCheckRecord,
) -> Result<(), sqlx::Error> {
    let check = &record.check;
    sqlx::query!(
        "INSERT INTO intake.access_checks (visit_id, emergency_need, emergency_note, decision, checked_by,
             checked_at, forwarded_to)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        visit.0,
        check.emergency_need,
        check.emergency_note,
        check.decision.as_str(),
        record.checked_by,
        record.checked_at,
        check.forwarded_to,
    )
    .execute(&mut *conn)
    .await?;
    let column = |value: fn(&ClaimCheck) -> &str| -> Vec<String> {
        check.claims.iter().map(|c| value(c).to_owned()).collect()
    };
    sqlx::query!(
        "INSERT INTO intake.access_check_claims (visit_id, claim, outcome, note)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])",
        visit.0,
        &column(|c| c.claim.as_str()),
        &column(|c| c.outcome.as_str()),
        &column(|c| c.note.as_str()),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The access checks of `visits`, with their claims, by visit.
#[tracing::instrument(name = "SELECT intake.access_checks", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "access_checks", db.query.summary = "SELECT access_checks; SELECT access_check_claims"))]
pub async fn access_checks(
    conn: &mut PgConnection,
    visits: &[VisitId],
) -> Result<HashMap<VisitId, AccessCheckRecord>, sqlx::Error> {
    let ids: Vec<Uuid> = visits.iter().map(|v| v.0).collect();
    let checks = sqlx::query!(
        r#"SELECT visit_id AS "visit_id: VisitId", emergency_need, emergency_note,
             decision AS "decision: AccessDecision", checked_by, checked_at, forwarded_to
         FROM intake.access_checks WHERE visit_id = ANY($1)"#,
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let claims = sqlx::query!(
        r#"SELECT visit_id AS "visit_id: VisitId", claim AS "claim: PriorityClaim",
             outcome AS "outcome: ClaimOutcome", note
         FROM intake.access_check_claims
         WHERE visit_id = ANY($1) ORDER BY claim"#,
        &ids
    )
    .fetch_all(conn)
    .await?;
    let mut by_visit = HashMap::with_capacity(checks.len());
    for c in checks {
        let check = AccessCheck {
            claims: Vec::new(),
            emergency_need: c.emergency_need,
            emergency_note: c.emergency_note,
            decision: c.decision,
            forwarded_to: c.forwarded_to,
        };
        let record = AccessCheckRecord {
            check,
            checked_by: c.checked_by,
            checked_at: c.checked_at,
        };
        by_visit.insert(c.visit_id, record);
    }
    for c in claims {
        if let Some(record) = by_visit.get_mut(&c.visit_id) {
            record.check.claims.push(ClaimCheck {
                claim: c.claim,
                outcome: c.outcome,
                note: c.note,
            });
        }
    }
    Ok(by_visit)
}
