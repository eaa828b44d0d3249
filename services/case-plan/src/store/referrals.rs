//! The referrals partner made for plan steps, as partner's events tell them.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{CaseId, StepId};

/// A referral for a plan step.
#[derive(Debug, Clone)]
pub struct StepReferral {
    /// The referral at partner.
    pub referral_id: Uuid,
    /// The case.
    pub case_id: CaseId,
    /// The step.
    pub step_id: StepId,
    /// The partner.
    pub partner_id: Uuid,
    /// Its state, as partner's contract names it (e.g. `REFERRAL_STATE_ACCEPTED`).
    pub state: String,
}

/// Records a referral or its new state.
#[tracing::instrument(name = "INSERT caseplan.step_referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "step_referrals"))]
pub async fn upsert(
    conn: &mut PgConnection,
    r: &StepReferral,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO caseplan.step_referrals (referral_id, case_id, step_id, partner_id, state, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (referral_id) DO UPDATE SET state = $5, updated_at = $6",
        r.referral_id,
        r.case_id.0,
        r.step_id.0,
        r.partner_id,
        r.state,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest referral of each step of a case: (step, referral).
#[tracing::instrument(name = "SELECT caseplan.step_referrals", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "step_referrals"))]
pub async fn latest_of_case(
    conn: &mut PgConnection,
    case: CaseId,
) -> Result<Vec<(StepId, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT ON (step_id) step_id AS "step_id: StepId", referral_id
           FROM caseplan.step_referrals WHERE case_id = $1
           ORDER BY step_id, updated_at DESC"#,
        case.0,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.step_id, r.referral_id))
        .collect())
}
