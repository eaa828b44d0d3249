//! Offers with their capacity: places, places taken by accepted referrals, the waiting list.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{OfferCategory, OfferId, PartnerId};

/// An offer as stored, with its waiting list's length.
#[derive(Debug, Clone)]
pub struct OfferRow {
    /// Id.
    pub id: OfferId,
    /// The partner.
    pub partner_id: PartnerId,
    /// Category.
    pub category: OfferCategory,
    /// Title.
    pub title: String,
    /// Places in total.
    pub places: i32,
    /// Places taken.
    pub places_taken: i32,
    /// Referrals waiting.
    pub waiting: i64,
    /// Eligibility.
    pub eligibility: String,
    /// Location.
    pub location: String,
}

impl OfferRow {
    /// Whether a referral accepted now would find a place.
    pub fn has_free_place(&self) -> bool {
        self.places_taken < self.places
    }
}

/// A new offer.
#[derive(Debug, Clone)]
pub struct NewOffer {
    /// Id.
    pub id: OfferId,
    /// The partner.
    pub partner_id: PartnerId,
    /// Category.
    pub category: OfferCategory,
    /// Title.
    pub title: String,
    /// Places.
    pub places: i32,
    /// Eligibility.
    pub eligibility: String,
    /// Location.
    pub location: String,
}

/// Inserts an offer.
#[tracing::instrument(name = "INSERT partner.offers", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "INSERT", db.collection.name = "offers"))]
pub async fn insert(
    conn: &mut PgConnection,
    offer: &NewOffer,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO partner.offers (id, partner_id, category, title, places, eligibility, location, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        offer.id.0,
        offer.partner_id.0,
        offer.category.as_str(),
        offer.title,
        offer.places,
        offer.eligibility,
        offer.location,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads an offer; `lock` takes it for a change of its places in this transaction.
#[tracing::instrument(name = "SELECT partner.offers", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "offers", db.query.summary = "SELECT offers referrals"))]
pub async fn get(
    conn: &mut PgConnection,
    id: OfferId,
    lock: bool,
) -> Result<Option<OfferRow>, sqlx::Error> {
    if lock {
        sqlx::query!(
            "SELECT id FROM partner.offers WHERE id = $1 FOR UPDATE",
            id.0
        )
        .fetch_optional(&mut *conn)
        .await?;
    }
    sqlx::query_as!(
        OfferRow,
        r#"SELECT o.id AS "id: OfferId", o.partner_id AS "partner_id: PartnerId",
               o.category AS "category: _", o.title, o.places, o.places_taken,
               (SELECT count(*) FROM partner.referrals r
                WHERE r.offer_id = o.id AND r.state = 'waiting') AS "waiting!",
               o.eligibility, o.location
           FROM partner.offers o WHERE o.id = $1"#,
        id.0,
    )
    .fetch_optional(conn)
    .await
}

/// Offers of active partners in `category` (all when `None`), free places first, then by
/// fewest places taken; keyset after (rank, id) where rank is 0 with a free place, else 1.
#[tracing::instrument(name = "SELECT partner.offers", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "SELECT", db.collection.name = "offers", db.query.summary = "SELECT offers referrals partners"))]
pub async fn search(
    conn: &mut PgConnection,
    category: Option<OfferCategory>,
    after: Option<(i64, Uuid)>,
    limit: i64,
) -> Result<Vec<(i64, OfferRow)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT rank AS "rank!", id AS "id!: OfferId", partner_id AS "partner_id!: PartnerId",
               category AS "category!: OfferCategory", title AS "title!", places AS "places!",
               places_taken AS "places_taken!", waiting AS "waiting!",
               eligibility AS "eligibility!", location AS "location!"
           FROM (
               SELECT o.*, CASE WHEN o.places_taken < o.places THEN 0::bigint ELSE 1::bigint END
                          * 100000 + o.places_taken AS rank,
                      (SELECT count(*) FROM partner.referrals r
                       WHERE r.offer_id = o.id AND r.state = 'waiting') AS waiting
               FROM partner.offers o JOIN partner.partners p ON p.id = o.partner_id
               WHERE p.active AND ($1::text IS NULL OR o.category = $1)
           ) ranked
           WHERE $2::bigint IS NULL OR (rank, id) > ($2, $3::uuid)
           ORDER BY rank, id LIMIT $4"#,
        category.map(OfferCategory::as_str),
        after.map(|(rank, _)| rank),
        after.map(|(_, id)| id),
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.rank,
                OfferRow {
                    id: r.id,
                    partner_id: r.partner_id,
                    category: r.category,
                    title: r.title,
                    places: r.places,
                    places_taken: r.places_taken,
                    waiting: r.waiting,
                    eligibility: r.eligibility,
                    location: r.location,
                },
            )
        })
        .collect())
}

/// Moves the places taken by `delta` (+1 on acceptance, -1 when a place frees).
#[tracing::instrument(name = "UPDATE partner.offers", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "offers"))]
pub async fn take_places(
    conn: &mut PgConnection,
    id: OfferId,
    delta: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE partner.offers SET places_taken = places_taken + $2 WHERE id = $1",
        id.0,
        delta,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the places in total.
#[tracing::instrument(name = "UPDATE partner.offers", skip_all, fields(db.system.name = "postgresql", db.namespace = "partner", db.operation.name = "UPDATE", db.collection.name = "offers"))]
pub async fn set_places(
    conn: &mut PgConnection,
    id: OfferId,
    places: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE partner.offers SET places = $2 WHERE id = $1",
        id.0,
        places
    )
    .execute(conn)
    .await?;
    Ok(())
}
