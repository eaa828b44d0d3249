//! Referrals with the data they carry, and the waiting list of each offer.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    CaseId, ConsentId, DataCategory, OfferId, PartnerId, Progress, ReferralId, ReferralOutcome,
    ReferralState, StepId,
};

/// A referral as stored.
#[derive(Debug, Clone)]
pub struct ReferralRow {
    /// Id.
    pub id: ReferralId,
    /// The case.
    pub case_id: CaseId,
    /// The offer.
    pub offer_id: OfferId,
    /// The partner.
    pub partner_id: PartnerId,
    /// The plan step.
    pub step_id: StepId,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub state: ReferralState,
    /// The consent it rests on.
    pub consent_id: ConsentId,
    /// The categories shared.
    pub categories: Vec<DataCategory>,
    /// The shared data (protobuf `SharedData`); `None` once redacted.
    pub shared: Option<Vec<u8>>,
    /// When it was redacted.
    pub redacted_at: Option<DateTime<Utc>>,
    /// The partner's reason for declining.
    pub decline_reason: Option<String>,
    /// How the partner finished it.
    pub outcome: Option<ReferralOutcome>,
    /// The partner's last progress report.
    pub progress: Option<Progress>,
    /// The next contact the partner reported.
    pub next_contact: Option<NaiveDate>,
    /// The partner's note.
    pub feedback_note: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Inserts a referral.
#[tracing::instrument(name = "INSERT partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "INSERT", db.collection.name = "referrals"))]
pub async fn insert(conn: &mut PgConnection, r: &ReferralRow) -> Result<(), sqlx::Error> {
    let categories: Vec<String> = r.categories.iter().map(|c| c.as_str().to_owned()).collect();
    sqlx::query!(
        "INSERT INTO partner.referrals (id, case_id, offer_id, partner_id, step_id, reason, state,
             consent_id, categories, shared, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        r.id.0,
        r.case_id.0,
        r.offer_id.0,
        r.partner_id.0,
        r.step_id.0,
        r.reason,
        r.state.as_str(),
        r.consent_id.0,
        &categories,
        r.shared,
        r.created_by,
        r.created_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

struct Columns {
    id: ReferralId,
    case_id: CaseId,
    offer_id: OfferId,
    partner_id: PartnerId,
    step_id: StepId,
    reason: String,
    state: ReferralState,
    consent_id: ConsentId,
    categories: Vec<String>,
    shared: Option<Vec<u8>>,
    redacted_at: Option<DateTime<Utc>>,
    decline_reason: Option<String>,
    outcome: Option<ReferralOutcome>,
    progress: Option<Progress>,
    next_contact: Option<NaiveDate>,
    feedback_note: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Columns> for ReferralRow {
    type Error = sqlx::Error;
    fn try_from(c: Columns) -> Result<Self, sqlx::Error> {
        let categories = c
            .categories
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<DataCategory>, String>>()
            .map_err(|e| sqlx::Error::Decode(e.into()))?;
        Ok(ReferralRow {
            id: c.id,
            case_id: c.case_id,
            offer_id: c.offer_id,
            partner_id: c.partner_id,
            step_id: c.step_id,
            reason: c.reason,
            state: c.state,
            consent_id: c.consent_id,
            categories,
            shared: c.shared,
            redacted_at: c.redacted_at,
            decline_reason: c.decline_reason,
            outcome: c.outcome,
            progress: c.progress,
            next_contact: c.next_contact,
            feedback_note: c.feedback_note,
            created_by: c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
    }
}

/// Reads a referral; `lock` takes it for a change in this transaction.
#[tracing::instrument(name = "SELECT partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "referrals"))]
pub async fn get(
    conn: &mut PgConnection,
    id: ReferralId,
    lock: bool,
) -> Result<Option<ReferralRow>, sqlx::Error> {
    if lock {
        sqlx::query!(
            "SELECT id FROM partner.referrals WHERE id = $1 FOR UPDATE",
            id.0
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let row = sqlx::query_as!(
        Columns,
        r#"SELECT id AS "id: ReferralId", case_id AS "case_id: CaseId",
               offer_id AS "offer_id: OfferId", partner_id AS "partner_id: PartnerId",
               step_id AS "step_id: StepId", reason, state AS "state: _",
               consent_id AS "consent_id: ConsentId", categories, shared, redacted_at,
               decline_reason, outcome AS "outcome: _", progress AS "progress: _", next_contact,
               feedback_note, created_by, created_at, updated_at
           FROM partner.referrals WHERE id = $1"#,
        id.0,
    )
    .fetch_optional(conn)
    .await?;
    row.map(ReferralRow::try_from).transpose()
}

/// Which referrals a listing shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Of this case.
    pub case: Option<CaseId>,
    /// Addressed to this partner.
    pub partner: Option<PartnerId>,
    /// In this state.
    pub state: Option<ReferralState>,
    /// Changed after this time.
    pub changed_since: Option<DateTime<Utc>>,
}

/// Referrals matching `filter`, newest first, after the referral `after`.
#[tracing::instrument(name = "SELECT partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "referrals"))]
pub async fn list(
    conn: &mut PgConnection,
    filter: Filter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReferralRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Columns,
        r#"SELECT id AS "id: ReferralId", case_id AS "case_id: CaseId",
               offer_id AS "offer_id: OfferId", partner_id AS "partner_id: PartnerId",
               step_id AS "step_id: StepId", reason, state AS "state: _",
               consent_id AS "consent_id: ConsentId", categories, shared, redacted_at,
               decline_reason, outcome AS "outcome: _", progress AS "progress: _", next_contact,
               feedback_note, created_by, created_at, updated_at
           FROM partner.referrals
           WHERE ($1::uuid IS NULL OR case_id = $1) AND ($2::uuid IS NULL OR partner_id = $2)
             AND ($3::text IS NULL OR state = $3) AND ($4::uuid IS NULL OR id < $4)
             AND ($6::timestamptz IS NULL OR updated_at > $6)
           ORDER BY id DESC LIMIT $5"#,
        filter.case.map(|c| c.0),
        filter.partner.map(|p| p.0),
        filter.state.map(ReferralState::as_str),
        after,
        limit,
        filter.changed_since,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(ReferralRow::try_from).collect()
}

/// The unfinished referrals of a case, locked (the case closed).
#[tracing::instrument(name = "SELECT partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "referrals"))]
pub async fn open_of_case(
    conn: &mut PgConnection,
    case: CaseId,
) -> Result<Vec<(ReferralId, OfferId, ReferralState)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id: ReferralId", offer_id AS "offer_id: OfferId", state AS "state: ReferralState"
           FROM partner.referrals
           WHERE case_id = $1 AND state IN ('sent', 'waiting', 'accepted', 'in_progress')
           ORDER BY id FOR UPDATE"#,
        case.0,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.offer_id, r.state))
        .collect())
}

/// Moves a referral to `state`, recording a decline's reason or the partner's outcome.
#[tracing::instrument(name = "UPDATE partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "referrals"))]
pub async fn set_state(
    conn: &mut PgConnection,
    id: ReferralId,
    state: ReferralState,
    decline_reason: Option<&str>,
    outcome: Option<ReferralOutcome>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE partner.referrals SET state = $2, decline_reason = COALESCE($3, decline_reason),
             outcome = COALESCE($4, outcome), updated_at = $5
         WHERE id = $1",
        id.0,
        state.as_str(),
        decline_reason,
        outcome.map(ReferralOutcome::as_str),
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a progress report (and the state it leads to).
#[tracing::instrument(name = "UPDATE partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "referrals"))]
pub async fn report(
    conn: &mut PgConnection,
    id: ReferralId,
    state: ReferralState,
    progress: Progress,
    next_contact: Option<NaiveDate>,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE partner.referrals SET state = $2, progress = $3, next_contact = $4,
             feedback_note = COALESCE($5, feedback_note), updated_at = $6
         WHERE id = $1",
        id.0,
        state.as_str(),
        progress.as_str(),
        next_contact,
        note,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sends the oldest waiting referrals of an offer (at most `count`) to the partner; their
/// ids.
#[tracing::instrument(name = "UPDATE partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "referrals"))]
pub async fn promote_waiting(
    conn: &mut PgConnection,
    offer: OfferId,
    count: i64,
    at: DateTime<Utc>,
) -> Result<Vec<ReferralId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE partner.referrals SET state = 'sent', updated_at = $3
           WHERE id IN (SELECT id FROM partner.referrals
                        WHERE offer_id = $1 AND state = 'waiting'
                        ORDER BY created_at, id LIMIT $2 FOR UPDATE)
           RETURNING id AS "id: ReferralId""#,
        offer.0,
        count,
        at,
    )
    .fetch_all(conn)
    .await
}

/// Removes the shared data of every referral resting on `consent` (the consent was revoked);
/// their ids.
#[tracing::instrument(name = "UPDATE partner.referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "referrals"))]
pub async fn redact(
    conn: &mut PgConnection,
    consent: ConsentId,
    at: DateTime<Utc>,
) -> Result<Vec<ReferralId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE partner.referrals SET shared = NULL, redacted_at = $2, updated_at = $2
           WHERE consent_id = $1 AND redacted_at IS NULL
           RETURNING id AS "id: ReferralId""#,
        consent.0,
        at,
    )
    .fetch_all(conn)
    .await
}
