//! A partner's change stream: the ReferralChanged events about it on partner's own feed, in
//! feed (commit) order.

use sqlx::PgConnection;

use crate::domain::PartnerId;

/// Most changes read per page.
pub const PAGE: i64 = 100;

/// The partner's changes after `after`: (position, ReferralChanged payload).
#[tracing::instrument(name = "SELECT partner.outbox", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "outbox"))]
pub async fn changes(
    conn: &mut PgConnection,
    partner: PartnerId,
    after: i64,
) -> Result<Vec<(i64, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT position AS "position!", payload FROM partner.outbox
           WHERE aggregate_id = $1 AND event_type = 'fallwerk.partner.v1.ReferralChanged'
             AND position > $2
           ORDER BY position LIMIT $3"#,
        partner.0,
        after,
        PAGE,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.position, r.payload)).collect())
}
