//! Cooperation partners.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{PartnerId, PartnerKind};

/// A partner as stored.
#[derive(Debug, Clone)]
pub struct PartnerRow {
    /// Id.
    pub id: PartnerId,
    /// Kind.
    pub kind: PartnerKind,
    /// Name.
    pub display_name: String,
    /// Contact.
    pub contact: String,
    /// Gets referrals.
    pub active: bool,
}

/// Inserts an active partner.
#[tracing::instrument(name = "INSERT partner.partners", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "INSERT", db.collection.name = "partners"))]
pub async fn insert(
    conn: &mut PgConnection,
    partner: &PartnerRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO partner.partners (id, kind, display_name, contact, active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        partner.id.0,
        partner.kind.as_str(),
        partner.display_name,
        partner.contact,
        partner.active,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads a partner.
#[tracing::instrument(name = "SELECT partner.partners", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "partners"))]
pub async fn get(
    conn: &mut PgConnection,
    id: PartnerId,
) -> Result<Option<PartnerRow>, sqlx::Error> {
    sqlx::query_as!(
        PartnerRow,
        r#"SELECT id AS "id: PartnerId", kind AS "kind: _", display_name, contact, active
           FROM partner.partners WHERE id = $1"#,
        id.0,
    )
    .fetch_optional(conn)
    .await
}

/// A page of partners by name, after the partner `after` (name, id).
#[tracing::instrument(name = "SELECT partner.partners", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "partners"))]
pub async fn list(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PartnerRow>, sqlx::Error> {
    sqlx::query_as!(
        PartnerRow,
        r#"SELECT id AS "id: PartnerId", kind AS "kind: _", display_name, contact, active
           FROM partner.partners
           WHERE $1::uuid IS NULL OR id > $1
           ORDER BY id LIMIT $2"#,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Replaces a partner's name, contact and active flag; the partner as it is now.
#[tracing::instrument(name = "UPDATE partner.partners", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "partners"))]
pub async fn update(
    conn: &mut PgConnection,
    partner: &PartnerRow,
) -> Result<Option<PartnerRow>, sqlx::Error> {
    sqlx::query_as!(
        PartnerRow,
        r#"UPDATE partner.partners SET display_name = $2, contact = $3, active = $4
           WHERE id = $1
           RETURNING id AS "id: PartnerId", kind AS "kind: _", display_name, contact, active"#,
        partner.id.0,
        partner.display_name,
        partner.contact,
        partner.active,
    )
    .fetch_optional(conn)
    .await
}
