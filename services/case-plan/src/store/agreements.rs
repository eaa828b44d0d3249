//! Help agreements with their comments and disputes. An agreement's content is written while
//! it is a draft; afterwards only its state and what the state records change.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    Acknowledgement, AcknowledgementChannel, AgreementForm, AgreementId, AgreementState, CaseId,
    CommentAuthor, DisputeOutcome,
};

/// An agreement as stored.
#[derive(Debug, Clone)]
pub struct AgreementRow {
    /// Id.
    pub id: AgreementId,
    /// The case.
    pub case_id: CaseId,
    /// The plan revision it rests on.
    pub plan_revision: i32,
    /// Legal form.
    pub form: AgreementForm,
    /// Stored state.
    pub state: AgreementState,
    /// Content.
    pub text: String,
    /// Latest review day.
    pub review_date: NaiveDate,
    /// First day in force.
    pub start_date: Option<NaiveDate>,
    /// Last day in force.
    pub end_date: Option<NaiveDate>,
    /// How it was agreed, with when and by whom.
    pub agreed: Option<(Acknowledgement, DateTime<Utc>, String)>,
    /// The client's reason for declining.
    pub decline_reason: Option<String>,
    /// The dispute, if any.
    pub dispute: Option<DisputeRow>,
    /// The agreement it superseded.
    pub supersedes_id: Option<AgreementId>,
    /// Comments, oldest first.
    pub comments: Vec<CommentRow>,
    /// Version for etags.
    pub version: i32,
    /// Drafted.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A dispute as stored.
#[derive(Debug, Clone)]
pub struct DisputeRow {
    /// The objection.
    pub objection: String,
    /// Raised.
    pub raised_at: DateTime<Utc>,
    /// The state it was disputed in.
    pub from: Option<AgreementState>,
    /// Resolution, outcome and when, once resolved.
    pub resolved: Option<(String, DisputeOutcome, DateTime<Utc>)>,
}

/// A comment as stored.
#[derive(Debug, Clone)]
pub struct CommentRow {
    /// Whose.
    pub author: CommentAuthor,
    /// Text.
    pub text: String,
    /// A counter-proposal.
    pub counter_proposal: bool,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Recorded by (token subject).
    pub recorded_by: String,
}

/// The content of a draft.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Text.
    pub text: String,
    /// Latest review day.
    pub review_date: NaiveDate,
    /// First day in force.
    pub start_date: Option<NaiveDate>,
    /// Last day in force.
    pub end_date: Option<NaiveDate>,
}

/// A new draft.
#[derive(Debug, Clone)]
pub struct NewAgreement<'a> {
    /// Id.
    pub id: AgreementId,
    /// The case.
    pub case: CaseId,
    /// The plan revision it rests on.
    pub plan_revision: i32,
    /// Legal form.
    pub form: AgreementForm,
    /// Content.
    pub draft: &'a Draft,
    /// The agreement in force it is to supersede.
    pub supersedes: Option<AgreementId>,
    /// Drafted.
    pub at: DateTime<Utc>,
}

/// Inserts a draft; false when another agreement of the case is in progress (a unique index
/// decides, so concurrent drafts cannot both win).
#[tracing::instrument(name = "INSERT caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "agreements"))]
pub async fn insert(conn: &mut PgConnection, new: &NewAgreement<'_>) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "INSERT INTO caseplan.agreements (id, case_id, plan_revision, form, state, text, review_date,
             start_date, end_date, supersedes_id, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, 1, $10, $10)
         ON CONFLICT DO NOTHING",
        Uuid::from(new.id),
        Uuid::from(new.case),
        new.plan_revision,
        new.form.as_str(),
        new.draft.text,
        new.draft.review_date,
        new.draft.start_date,
        new.draft.end_date,
        new.supersedes.map(Uuid::from),
        new.at,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Replaces a draft's content.
#[tracing::instrument(name = "UPDATE caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "agreements"))]
pub async fn update_draft(
    conn: &mut PgConnection,
    id: AgreementId,
    draft: &Draft,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.agreements SET text = $2, review_date = $3, start_date = $4, end_date = $5,
             version = version + 1, updated_at = $6
         WHERE id = $1",
        Uuid::from(id),
        draft.text,
        draft.review_date,
        draft.start_date,
        draft.end_date,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves an agreement to `state` (propose, decline's reason aside, supersede, end).
#[tracing::instrument(name = "UPDATE caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "agreements"))]
pub async fn set_state(
    conn: &mut PgConnection,
    id: AgreementId,
    state: AgreementState,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.agreements SET state = $2, version = version + 1, updated_at = $3
         WHERE id = $1",
        Uuid::from(id),
        state.as_str(),
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that the client agreed.
#[tracing::instrument(name = "UPDATE caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "agreements"))]
pub async fn agree(
    conn: &mut PgConnection,
    id: AgreementId,
    ack: &Acknowledgement,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.agreements SET state = 'agreed', ack_channel = $2, ack_client_signed = $3,
             ack_office_signed = $4, ack_client_assent = $5, agreed_at = $6, agreed_by = $7,
             version = version + 1, updated_at = $6
         WHERE id = $1",
        Uuid::from(id),
        ack.channel.as_str(),
        ack.client_signed,
        ack.office_signed,
        ack.client_assent,
        at,
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that the client declined.
#[tracing::instrument(name = "UPDATE caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "agreements"))]
pub async fn decline(
    conn: &mut PgConnection,
    id: AgreementId,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.agreements SET state = 'declined', decline_reason = $2,
             version = version + 1, updated_at = $3
         WHERE id = $1",
        Uuid::from(id),
        reason,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the client's objection; `from` is the state a kept agreement returns to.
#[tracing::instrument(name = "UPDATE caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "agreements"))]
pub async fn dispute(
    conn: &mut PgConnection,
    id: AgreementId,
    objection: &str,
    from: AgreementState,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.agreements SET state = 'disputed', dispute_objection = $2,
             disputed_from = $3, disputed_at = $4, dispute_resolution = NULL,
             dispute_outcome = NULL, dispute_resolved_at = NULL, version = version + 1,
             updated_at = $4
         WHERE id = $1",
        Uuid::from(id),
        objection,
        from.as_str(),
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a dispute's resolution and the state it leaves the agreement in.
#[tracing::instrument(name = "UPDATE caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "agreements"))]
pub async fn resolve(
    conn: &mut PgConnection,
    id: AgreementId,
    resolution: &str,
    outcome: DisputeOutcome,
    state: AgreementState,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.agreements SET state = $2, dispute_resolution = $3, dispute_outcome = $4,
             dispute_resolved_at = $5, version = version + 1, updated_at = $5
         WHERE id = $1",
        Uuid::from(id),
        state.as_str(),
        resolution,
        outcome.as_str(),
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends a comment.
#[tracing::instrument(name = "INSERT caseplan.agreement_comments", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "agreement_comments", db.query.summary = "INSERT agreement_comments; UPDATE agreements"))]
pub async fn comment(
    conn: &mut PgConnection,
    id: AgreementId,
    comment: &CommentRow,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO caseplan.agreement_comments
             (agreement_id, seq, author, text, counter_proposal, created_at, recorded_by)
         SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, $4, $5, $6
         FROM caseplan.agreement_comments WHERE agreement_id = $1",
        Uuid::from(id),
        comment.author.as_str(),
        comment.text,
        comment.counter_proposal,
        comment.created_at,
        comment.recorded_by,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE caseplan.agreements SET version = version + 1, updated_at = $2 WHERE id = $1",
        Uuid::from(id),
        comment.created_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An agreement as its columns hold it.
struct Columns {
    id: Uuid,
    case_id: Uuid,
    plan_revision: i32,
    form: AgreementForm,
    state: AgreementState,
    text: String,
    review_date: NaiveDate,
    start_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    ack_channel: Option<AcknowledgementChannel>,
    ack_client_signed: Option<bool>,
    ack_office_signed: Option<bool>,
    ack_client_assent: Option<bool>,
    agreed_at: Option<DateTime<Utc>>,
    agreed_by: Option<String>,
    decline_reason: Option<String>,
    dispute_objection: Option<String>,
    disputed_at: Option<DateTime<Utc>>,
    disputed_from: Option<AgreementState>,
    dispute_resolution: Option<String>,
    dispute_outcome: Option<DisputeOutcome>,
    dispute_resolved_at: Option<DateTime<Utc>>,
    supersedes_id: Option<Uuid>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Columns {
    fn into_row(self, comments: Vec<CommentRow>) -> AgreementRow {
        let agreed = match (self.ack_channel, self.agreed_at) {
            (Some(channel), Some(at)) => Some((
                Acknowledgement {
                    channel,
                    client_signed: self.ack_client_signed.unwrap_or(false),
                    office_signed: self.ack_office_signed.unwrap_or(false),
                    client_assent: self.ack_client_assent.unwrap_or(false),
                },
                at,
                self.agreed_by.unwrap_or_default(),
            )),
            _ => None,
        };
        let dispute = match (self.dispute_objection, self.disputed_at) {
            (Some(objection), Some(raised_at)) => Some(DisputeRow {
                objection,
                raised_at,
                from: self.disputed_from,
                resolved: match (
                    self.dispute_resolution,
                    self.dispute_outcome,
                    self.dispute_resolved_at,
                ) {
                    (Some(text), Some(outcome), Some(at)) => Some((text, outcome, at)),
                    _ => None,
                },
            }),
            _ => None,
        };
        AgreementRow {
            id: AgreementId(self.id),
            case_id: CaseId(self.case_id),
            plan_revision: self.plan_revision,
            form: self.form,
            state: self.state,
            text: self.text,
            review_date: self.review_date,
            start_date: self.start_date,
            end_date: self.end_date,
            agreed,
            decline_reason: self.decline_reason,
            dispute,
            supersedes_id: self.supersedes_id.map(AgreementId),
            comments,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Reads an agreement with its comments; `lock` takes it for a change in this transaction.
#[tracing::instrument(name = "SELECT caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "agreements", db.query.summary = "SELECT agreements; SELECT agreement_comments"))]
pub async fn get(
    conn: &mut PgConnection,
    id: AgreementId,
    lock: bool,
) -> Result<Option<AgreementRow>, sqlx::Error> {
    let columns = if lock {
        sqlx::query_as!(
            Columns,
            r#"SELECT id, case_id, plan_revision, form AS "form: _", state AS "state: _", text,
                   review_date, start_date, end_date, ack_channel AS "ack_channel: _",
                   ack_client_signed, ack_office_signed, ack_client_assent, agreed_at, agreed_by,
                   decline_reason, dispute_objection, disputed_at,
                   disputed_from AS "disputed_from: _", dispute_resolution,
                   dispute_outcome AS "dispute_outcome: _", dispute_resolved_at, supersedes_id,
                   version, created_at, updated_at
               FROM caseplan.agreements WHERE id = $1 FOR UPDATE"#,
            Uuid::from(id),
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            Columns,
            r#"SELECT id, case_id, plan_revision, form AS "form: _", state AS "state: _", text,
                   review_date, start_date, end_date, ack_channel AS "ack_channel: _",
                   ack_client_signed, ack_office_signed, ack_client_assent, agreed_at, agreed_by,
                   decline_reason, dispute_objection, disputed_at,
                   disputed_from AS "disputed_from: _", dispute_resolution,
                   dispute_outcome AS "dispute_outcome: _", dispute_resolved_at, supersedes_id,
                   version, created_at, updated_at
               FROM caseplan.agreements WHERE id = $1"#,
            Uuid::from(id),
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    let Some(columns) = columns else {
        return Ok(None);
    };
    let comments = comments_of(conn, id).await?;
    Ok(Some(columns.into_row(comments)))
}

/// A case's agreements, newest first, after the agreement `after`, at most `limit`.
#[tracing::instrument(name = "SELECT caseplan.agreements", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "agreements", db.query.summary = "SELECT agreements; SELECT agreement_comments"))]
pub async fn list(
    conn: &mut PgConnection,
    case: CaseId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AgreementRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Columns,
        r#"SELECT id, case_id, plan_revision, form AS "form: _", state AS "state: _", text,
               review_date, start_date, end_date, ack_channel AS "ack_channel: _",
               ack_client_signed, ack_office_signed, ack_client_assent, agreed_at, agreed_by,
               decline_reason, dispute_objection, disputed_at,
               disputed_from AS "disputed_from: _", dispute_resolution,
               dispute_outcome AS "dispute_outcome: _", dispute_resolved_at, supersedes_id,
               version, created_at, updated_at
           FROM caseplan.agreements
           WHERE case_id = $1 AND ($2::uuid IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3"#,
        Uuid::from(case),
        after,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut agreements = Vec::with_capacity(rows.len());
    for row in rows {
        let comments = comments_of(conn, AgreementId(row.id)).await?;
        agreements.push(row.into_row(comments));
    }
    Ok(agreements)
}

async fn comments_of(
    conn: &mut PgConnection,
    id: AgreementId,
) -> Result<Vec<CommentRow>, sqlx::Error> {
    sqlx::query_as!(
        CommentRow,
        r#"SELECT author AS "author: _", text, counter_proposal, created_at, recorded_by
           FROM caseplan.agreement_comments WHERE agreement_id = $1 ORDER BY seq"#,
        Uuid::from(id),
    )
    .fetch_all(conn)
    .await
}
