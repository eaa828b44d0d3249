//! The client's consents to share data of a case with a partner.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{CaseId, ConsentForm, ConsentId, ConsentTerms, DataCategory, PartnerId};

/// A consent as stored.
#[derive(Debug, Clone)]
pub struct ConsentRow {
    /// Id.
    pub id: ConsentId,
    /// The case.
    pub case_id: CaseId,
    /// The partner.
    pub partner_id: PartnerId,
    /// What for.
    pub purpose: String,
    /// Categories allowed.
    pub categories: Vec<DataCategory>,
    /// Form.
    pub form: ConsentForm,
    /// Where the evidence is.
    pub evidence: String,
    /// Given on.
    pub given_date: NaiveDate,
    /// Valid until.
    pub valid_until: NaiveDate,
    /// Recorded by (token subject).
    pub recorded_by: String,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ConsentRow {
    /// What a referral's check needs of it.
    pub fn terms(&self) -> ConsentTerms {
        ConsentTerms {
            id: self.id,
            partner: self.partner_id,
            categories: self.categories.iter().copied().collect(),
            given_date: self.given_date,
            valid_until: self.valid_until,
            revoked: self.revoked_at.is_some(),
        }
    }
}

/// Inserts a consent.
#[tracing::instrument(name = "INSERT partner.consents", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "INSERT", db.collection.name = "consents"))]
pub async fn insert(
    conn: &mut PgConnection,
    consent: &ConsentRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let categories: Vec<String> = consent
        .categories
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    sqlx::query!(
        "INSERT INTO partner.consents (id, case_id, partner_id, purpose, categories, form, evidence,
             given_date, valid_until, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        consent.id.0,
        consent.case_id.0,
        consent.partner_id.0,
        consent.purpose,
        &categories,
        consent.form.as_str(),
        consent.evidence,
        consent.given_date,
        consent.valid_until,
        consent.recorded_by,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a consent revoked.
#[tracing::instrument(name = "UPDATE partner.consents", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "consents"))]
pub async fn revoke(
    conn: &mut PgConnection,
    id: ConsentId,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE partner.consents SET revoked_at = $2, revoked_by = $3 WHERE id = $1",
        id.0,
        at,
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

struct Columns {
    id: ConsentId,
    case_id: CaseId,
    partner_id: PartnerId,
    purpose: String,
    categories: Vec<String>,
    form: ConsentForm,
    evidence: String,
    given_date: NaiveDate,
    valid_until: NaiveDate,
    recorded_by: String,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<Columns> for ConsentRow {
    type Error = sqlx::Error;
    fn try_from(c: Columns) -> Result<Self, sqlx::Error> {
        let categories = c
            .categories
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<DataCategory>, String>>()
            .map_err(|e| sqlx::Error::Decode(e.into()))?;
        Ok(ConsentRow {
            id: c.id,
            case_id: c.case_id,
            partner_id: c.partner_id,
            purpose: c.purpose,
            categories,
            form: c.form,
            evidence: c.evidence,
            given_date: c.given_date,
            valid_until: c.valid_until,
            recorded_by: c.recorded_by,
            revoked_at: c.revoked_at,
        })
    }
}

/// Reads a consent; `lock` takes it for a change in this transaction.
#[tracing::instrument(name = "SELECT partner.consents", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "consents"))]
pub async fn get(
    conn: &mut PgConnection,
    id: ConsentId,
    lock: bool,
) -> Result<Option<ConsentRow>, sqlx::Error> {
    if lock {
        sqlx::query!(
            "SELECT id FROM partner.consents WHERE id = $1 FOR UPDATE",
            id.0
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    let row = sqlx::query_as!(
        Columns,
        r#"SELECT id AS "id: ConsentId", case_id AS "case_id: CaseId",
               partner_id AS "partner_id: PartnerId", purpose, categories, form AS "form: _",
               evidence, given_date, valid_until, recorded_by, revoked_at
           FROM partner.consents WHERE id = $1"#,
        id.0,
    )
    .fetch_optional(conn)
    .await?;
    row.map(ConsentRow::try_from).transpose()
}

/// A page of a case's consents, newest first, after the consent `after`.
#[tracing::instrument(name = "SELECT partner.consents", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "consents"))]
pub async fn of_case(
    conn: &mut PgConnection,
    case: CaseId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ConsentRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Columns,
        r#"SELECT id AS "id: ConsentId", case_id AS "case_id: CaseId",
               partner_id AS "partner_id: PartnerId", purpose, categories, form AS "form: _",
               evidence, given_date, valid_until, recorded_by, revoked_at
           FROM partner.consents WHERE case_id = $1 AND ($2::uuid IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3"#,
        case.0,
        after,
        limit,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(ConsentRow::try_from).collect()
}
