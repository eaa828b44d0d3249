//! Help plan revisions: written once, never changed; goals and steps keep their ids across
//! revisions.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    CaseId, Goal, GoalCategory, GoalId, GoalStatus, Goals, RevisionCause, Step, StepId, StepOwner,
    StepStatus,
};

/// One revision as stored.
#[derive(Debug, Clone)]
pub struct RevisionRow {
    /// The case.
    pub case_id: CaseId,
    /// Its number, from 1.
    pub revision: i32,
    /// Why it was made.
    pub cause: RevisionCause,
    /// Who made it (token subject).
    pub author: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Its goals and steps, in order.
    pub goals: Goals,
    /// Who approved it and when (team lead), if anyone did.
    pub approved: Option<(String, DateTime<Utc>)>,
}

/// Writes revision `revision` of the case's plan with its goals and steps.
#[tracing::instrument(name = "INSERT caseplan.plan_revisions", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "plan_revisions", db.query.summary = "INSERT plan_revisions; INSERT plan_goals; INSERT plan_steps"))]
pub async fn insert(conn: &mut PgConnection, row: &RevisionRow) -> Result<(), sqlx::Error> {
    let case = Uuid::from(row.case_id);
    sqlx::query!(
        "INSERT INTO caseplan.plan_revisions (case_id, revision, cause, author, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        case,
        row.revision,
        row.cause.as_str(),
        row.author,
        row.created_at,
    )
    .execute(&mut *conn)
    .await?;
    // One statement per table whatever the plan's size: the columns as arrays, unnested. The
    // macros type-check array binds only without NULL elements, so the optional dates are
    // bound with an explicit type (`as`), which skips that one check.
    let mut goals = GoalColumns::default();
    let mut steps = StepColumns::default();
    for (position, goal) in (0..).zip(&row.goals) {
        goals.push(goal, position);
        for (step_position, step) in (0..).zip(&goal.steps) {
            steps.push(goal.id, step, step_position);
        }
    }
    sqlx::query!(
        "INSERT INTO caseplan.plan_goals
             (case_id, revision, id, position, category, own_words, target_date, status)
         SELECT $1, $2, * FROM unnest($3::uuid[], $4::int[], $5::text[], $6::text[], $7::date[],
                                      $8::text[])",
        case,
        row.revision,
        &goals.id,
        &goals.position,
        &goals.category,
        &goals.own_words,
        &goals.target_date as &[Option<chrono::NaiveDate>],
        &goals.status,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO caseplan.plan_steps
             (case_id, revision, id, goal_id, position, action, owner, due_date, status)
         SELECT $1, $2, * FROM unnest($3::uuid[], $4::uuid[], $5::int[], $6::text[], $7::text[],
                                      $8::date[], $9::text[])",
        case,
        row.revision,
        &steps.id,
        &steps.goal_id,
        &steps.position,
        &steps.action,
        &steps.owner,
        &steps.due_date as &[Option<chrono::NaiveDate>],
        &steps.status,
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Default)]
struct GoalColumns {
    id: Vec<Uuid>,
    position: Vec<i32>,
    category: Vec<String>,
    own_words: Vec<String>,
    target_date: Vec<Option<chrono::NaiveDate>>,
    status: Vec<String>,
}

impl GoalColumns {
    fn push(&mut self, goal: &Goal, position: i32) {
        self.id.push(goal.id.into());
        self.position.push(position);
        self.category.push(goal.category.as_str().into());
        self.own_words.push(goal.own_words.clone());
        self.target_date.push(goal.target_date);
        self.status.push(goal.status.as_str().into());
    }
}

#[derive(Default)]
struct StepColumns {
    id: Vec<Uuid>,
    goal_id: Vec<Uuid>,
    position: Vec<i32>,
    action: Vec<String>,
    owner: Vec<String>,
    due_date: Vec<Option<chrono::NaiveDate>>,
    status: Vec<String>,
}

impl StepColumns {
    fn push(&mut self, goal: GoalId, step: &Step, position: i32) {
        self.id.push(step.id.into());
        self.goal_id.push(goal.into());
        self.position.push(position);
        self.action.push(step.action.clone());
        self.owner.push(step.owner.as_str().into());
        self.due_date.push(step.due_date);
        self.status.push(step.status.as_str().into());
    }
}

/// Records a team lead's approval of a revision; false when it was approved already.
#[tracing::instrument(name = "UPDATE caseplan.plan_revisions", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "plan_revisions"))]
pub async fn approve(
    conn: &mut PgConnection,
    case: CaseId,
    revision: i32,
    by: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE caseplan.plan_revisions SET approved_by = $3, approved_at = $4
         WHERE case_id = $1 AND revision = $2 AND approved_by IS NULL",
        Uuid::from(case),
        revision,
        by,
        at,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revisions of a case, newest first, from revision `below` down (exclusive; `None` for the
/// newest), at most `limit`.
#[tracing::instrument(name = "SELECT caseplan.plan_revisions", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "plan_revisions", db.query.summary = "SELECT plan_revisions; SELECT plan_goals; SELECT plan_steps"))]
pub async fn list(
    conn: &mut PgConnection,
    case: CaseId,
    below: Option<i32>,
    limit: i64,
) -> Result<Vec<RevisionRow>, sqlx::Error> {
    let heads = sqlx::query!(
        r#"SELECT revision, cause AS "cause: RevisionCause", author, created_at, approved_by,
               approved_at
           FROM caseplan.plan_revisions
           WHERE case_id = $1 AND ($2::int IS NULL OR revision < $2)
           ORDER BY revision DESC LIMIT $3"#,
        Uuid::from(case),
        below,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let numbers: Vec<i32> = heads.iter().map(|h| h.revision).collect();
    let mut goals = goals_of(conn, case, &numbers).await?;
    Ok(heads
        .into_iter()
        .map(|h| RevisionRow {
            case_id: case,
            revision: h.revision,
            cause: h.cause,
            author: h.author,
            created_at: h.created_at,
            goals: goals.remove(&h.revision).unwrap_or_default(),
            approved: h.approved_by.zip(h.approved_at),
        })
        .collect())
}

/// The goals with their steps of each of `revisions` of a case.
async fn goals_of(
    conn: &mut PgConnection,
    case: CaseId,
    revisions: &[i32],
) -> Result<HashMap<i32, Goals>, sqlx::Error> {
    let goal_rows = sqlx::query!(
        r#"SELECT revision, id, category AS "category: GoalCategory", own_words, target_date,
               status AS "status: GoalStatus"
           FROM caseplan.plan_goals WHERE case_id = $1 AND revision = ANY($2)
           ORDER BY revision, position"#,
        Uuid::from(case),
        revisions,
    )
    .fetch_all(&mut *conn)
    .await?;
    let step_rows = sqlx::query!(
        r#"SELECT revision, id, goal_id, action, owner AS "owner: StepOwner", due_date,
               status AS "status: StepStatus"
           FROM caseplan.plan_steps WHERE case_id = $1 AND revision = ANY($2)
           ORDER BY revision, position"#,
        Uuid::from(case),
        revisions,
    )
    .fetch_all(conn)
    .await?;
    let mut steps: HashMap<(i32, Uuid), Vec<Step>> = HashMap::new();
    for s in step_rows {
        steps
            .entry((s.revision, s.goal_id))
            .or_default()
            .push(Step {
                id: StepId(s.id),
                action: s.action,
                owner: s.owner,
                due_date: s.due_date,
                status: s.status,
            });
    }
    let mut plans: HashMap<i32, Goals> = HashMap::new();
    for g in goal_rows {
        plans.entry(g.revision).or_default().push(Goal {
            id: GoalId(g.id),
            category: g.category,
            own_words: g.own_words,
            target_date: g.target_date,
            status: g.status,
            steps: steps.remove(&(g.revision, g.id)).unwrap_or_default(),
        });
    }
    Ok(plans)
}
