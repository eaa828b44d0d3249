//! The data-sharing record of a case: what its referrals shared, and partner systems' reads
//! of them from partner's audit log.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::CaseId;

/// Most partner reads answered.
pub const MAX_READS: i64 = 1000;

/// One read of a referral by a partner system.
#[derive(Debug, Clone)]
pub struct ReadRow {
    /// The referral.
    pub referral_id: String,
    /// The partner system's subject.
    pub subject: String,
    /// The method.
    pub method: String,
    /// When.
    pub read_at: DateTime<Utc>,
}

/// Reads of the case's referrals by callers with the `partner` role, oldest first (the newest
/// `MAX_READS`).
#[tracing::instrument(name = "SELECT partner.audit_log", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "audit_log", db.query.summary = "SELECT audit_log referrals"))]
pub async fn partner_reads(
    conn: &mut PgConnection,
    case: CaseId,
) -> Result<Vec<ReadRow>, sqlx::Error> {
    let mut rows = sqlx::query_as!(
        ReadRow,
        r#"SELECT a.resource_id AS referral_id, a.subject, a.action AS method,
               a.occurred_at AS read_at
           FROM partner.audit_log a
           WHERE a.resource_type = 'referral' AND 'partner' = ANY(a.roles)
             AND a.resource_id IN (SELECT r.id::text FROM partner.referrals r WHERE r.case_id = $1)
           ORDER BY a.id DESC LIMIT $2"#,
        case.0,
        MAX_READS,
    )
    .fetch_all(conn)
    .await?;
    rows.reverse();
    Ok(rows)
}
