//! Reviews of the plan: progress per goal, notes, and when the next one is due.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{CaseId, GoalId, GoalProgress, ReviewId};

/// A review as stored.
#[derive(Debug, Clone)]
pub struct ReviewRow {
    /// Id.
    pub id: ReviewId,
    /// The case.
    pub case_id: CaseId,
    /// The plan revision reviewed.
    pub plan_revision: i32,
    /// Progress per goal, in order.
    pub goals: Vec<GoalReviewRow>,
    /// Notes.
    pub notes: String,
    /// The next review day.
    pub next_review_date: NaiveDate,
    /// The review day that was due.
    pub due_date: Option<NaiveDate>,
    /// Who (token subject).
    pub author: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One goal's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalReviewRow {
    /// The goal.
    pub goal_id: GoalId,
    /// How far it got.
    pub progress: GoalProgress,
    /// Note.
    pub note: String,
}

/// Writes a review with its goals.
#[tracing::instrument(name = "INSERT caseplan.reviews", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "reviews", db.query.summary = "INSERT reviews; INSERT review_goals"))]
pub async fn insert(conn: &mut PgConnection, review: &ReviewRow) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO caseplan.reviews
             (id, case_id, plan_revision, notes, next_review_date, due_date, author, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        Uuid::from(review.id),
        Uuid::from(review.case_id),
        review.plan_revision,
        review.notes,
        review.next_review_date,
        review.due_date,
        review.author,
        review.created_at,
    )
    .execute(&mut *conn)
    .await?;
    if review.goals.is_empty() {
        return Ok(());
    }
    let goal_ids: Vec<Uuid> = review.goals.iter().map(|g| g.goal_id.0).collect();
    let positions: Vec<i32> = (0..).take(review.goals.len()).collect();
    let progress: Vec<String> = review
        .goals
        .iter()
        .map(|g| g.progress.as_str().to_owned())
        .collect();
    let notes: Vec<String> = review.goals.iter().map(|g| g.note.clone()).collect();
    sqlx::query!(
        "INSERT INTO caseplan.review_goals (review_id, goal_id, position, progress, note)
         SELECT $1, * FROM unnest($2::uuid[], $3::int[], $4::text[], $5::text[])",
        Uuid::from(review.id),
        &goal_ids,
        &positions,
        &progress,
        &notes,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A case's reviews, newest first, after the review `after`, at most `limit`.
#[tracing::instrument(name = "SELECT caseplan.reviews", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "reviews", db.query.summary = "SELECT reviews; SELECT review_goals"))]
pub async fn list(
    conn: &mut PgConnection,
    case: CaseId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReviewRow>, sqlx::Error> {
    let heads = sqlx::query!(
        "SELECT id, plan_revision, notes, next_review_date, due_date, author, created_at
         FROM caseplan.reviews WHERE case_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
        Uuid::from(case),
        after,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = heads.iter().map(|h| h.id).collect();
    let goals = sqlx::query!(
        r#"SELECT review_id, goal_id, progress AS "progress: GoalProgress", note
           FROM caseplan.review_goals WHERE review_id = ANY($1) ORDER BY review_id, position"#,
        &ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(heads
        .into_iter()
        .map(|h| ReviewRow {
            id: ReviewId(h.id),
            case_id: case,
            plan_revision: h.plan_revision,
            goals: goals
                .iter()
                .filter(|g| g.review_id == h.id)
                .map(|g| GoalReviewRow {
                    goal_id: GoalId(g.goal_id),
                    progress: g.progress,
                    note: g.note.clone(),
                })
                .collect(),
            notes: h.notes,
            next_review_date: h.next_review_date,
            due_date: h.due_date,
            author: h.author,
            created_at: h.created_at,
        })
        .collect())
}
