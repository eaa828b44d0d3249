//! The help plan (Hilfeplan): the current revision, a new revision from the complete list of
//! goals and steps, and the history of revisions with their diffs.

use std::collections::HashSet;

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::caseplan as pb;
use uuid::Uuid;

use super::{CasePlan, team_case};
use crate::{
    domain::{
        self, CaseId, Goal, GoalCategory, GoalId, GoalStatus, PlanDiff, RevisionCause, StateError,
        Step, StepId, StepOwner, StepStatus, TimelineKind,
    },
    store::{self, plans::RevisionRow},
};

/// Most goals in one plan.
const MAX_GOALS: usize = 20;
/// Most steps per goal.
const MAX_STEPS: usize = 50;

impl CasePlan {
    /// GetHelpPlan: the current revision with its diff (audited: plan content).
    pub(super) async fn get_help_plan(
        &self,
        caller: &Caller,
        request: pb::GetHelpPlanRequest,
    ) -> Result<pb::GetHelpPlanResponse, ApiError> {
        let id = CaseId(wire::id(&request.case_id).map_err(|e| ApiError::invalid("case_id", e))?);
        let mut read = self.changes.read().await?;
        let case = team_case(read.conn(), caller, id, false).await?;
        // The current revision and the one before it, for the diff.
        let revisions =
            store::plans::list(read.conn(), id, Some(case.plan_revision + 1), 2).await?;
        read.audit(caller, "help_plan", &[id.0]).await?;
        let links = store::referrals::latest_of_case(read.conn(), id).await?;
        let plan = with_diffs(revisions, None, &links)
            .into_iter()
            .next()
            .unwrap_or_else(|| empty_plan(id));
        Ok(pb::GetHelpPlanResponse { plan: Some(plan) })
    }

    /// ReviseHelpPlan: a new revision from the complete goals and steps; goals and steps that
    /// keep their id must be in the current revision.
    pub(super) async fn revise_help_plan(
        &self,
        caller: &Caller,
        request: pb::ReviseHelpPlanRequest,
    ) -> Result<pb::ReviseHelpPlanResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let cause = v.check(
            "cause",
            wire::enum_value::<pb::RevisionCause, RevisionCause>(request.cause),
        );
        let goals = goals(&mut v, &request.goals);
        let (id, etag, cause, goals) = v.finish(
            id.zip(etag)
                .zip(cause)
                .zip(goals)
                .map(|(((a, b), c), d)| (a, b, c, d)),
        )?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.may_change()?;
                if case.plan_revision != etag {
                    return Err(ApiError::stale("help plan", id));
                }
                let revision = case.plan_revision + 1;
                cause.fits(revision)?;
                let current = store::plans::list(change.conn(), id, Some(revision), 1).await?;
                let before = current.into_iter().next();
                let goals = identify(goals, before.as_ref().map_or(&[][..], |r| &r.goals))?;
                let now = self.clock.now();
                let row = RevisionRow {
                    case_id: id,
                    revision,
                    cause,
                    author: caller.subject.clone(),
                    created_at: now,
                    goals,
                    approved: None,
                };
                store::plans::insert(change.conn(), &row).await?;
                let next_due = domain::next_due_date(&row.goals);
                store::cases::set_plan(change.conn(), id, revision, next_due, now).await?;
                let event = pb::HelpPlanRevised {
                    case_id: id.to_string(),
                    team_id: case.team_id.to_string(),
                    revision,
                    cause: pb::RevisionCause::from(cause).into(),
                    goal_count: i32::try_from(row.goals.len()).unwrap_or(i32::MAX),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "help_plan", &[id.0]).await?;
                let summary = format!("Hilfeplan Revision {revision} ({} Ziele)", row.goals.len());
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::PlanRevised,
                    now,
                    &caller.subject,
                    &revision.to_string(),
                    &summary,
                )
                .await?;
                let links = store::referrals::latest_of_case(change.conn(), id).await?;
                let plan = with_diffs(vec![row], before, &links).into_iter().next();
                Ok(pb::ReviseHelpPlanResponse { plan })
            })
            .await
    }

    /// ListPlanRevisions: the revisions newest first, each with its diff (audited).
    pub(super) async fn list_plan_revisions(
        &self,
        caller: &Caller,
        request: pb::ListPlanRevisionsRequest,
    ) -> Result<pb::ListPlanRevisionsResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[caller.method, &request.case_id],
        );
        let (id, page) = v.finish(id.zip(page))?;

        let mut read = self.changes.read().await?;
        team_case(read.conn(), caller, id, false).await?;
        let below = page
            .after_number()
            .map(|n| i32::try_from(n).unwrap_or(i32::MAX));
        // One more than the page for the next token, and one more for the last one's diff.
        let mut rows = store::plans::list(read.conn(), id, below, page.fetch_limit() + 1).await?;
        let size = usize::try_from(page.size).unwrap_or(usize::MAX);
        let older = (rows.len() > size + 1).then(|| rows.remove(size + 1));
        let (rows, next_page_token) = page.finish_numbered(rows, |r| i64::from(r.revision));
        // The diff of the page's oldest revision needs the one before it.
        let before_oldest = match rows.last() {
            Some(oldest) if oldest.revision > 1 => {
                older.or(
                    store::plans::list(read.conn(), id, Some(oldest.revision), 1)
                        .await?
                        .into_iter()
                        .next(),
                )
            }
            _ => None,
        };
        let links = store::referrals::latest_of_case(read.conn(), id).await?;
        read.audit(caller, "help_plan", &[id.0]).await?;
        Ok(pb::ListPlanRevisionsResponse {
            revisions: with_diffs(rows, before_oldest, &links),
            next_page_token,
        })
    }
}

impl CasePlan {
    /// ApprovePlanRevision: a team lead approves a revision of their team's case.
    pub(super) async fn approve_plan_revision(
        &self,
        caller: &Caller,
        request: pb::ApprovePlanRevisionRequest,
    ) -> Result<pb::ApprovePlanRevisionResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        if request.revision < 1 {
            v.add("revision", "must be a revision number, from 1");
        }
        let id = v.finish(id)?;
        let revision = request.revision;

        self.changes
            .create(key, async |change| {
                team_case(change.conn(), caller, id, true).await?;
                let now = self.clock.now();
                let exists = store::plans::list(change.conn(), id, Some(revision + 1), 1)
                    .await?
                    .into_iter()
                    .next()
                    .filter(|r| r.revision == revision);
                if exists.is_none() {
                    return Err(ApiError::not_found("plan revision", revision));
                }
                if !store::plans::approve(change.conn(), id, revision, &caller.subject, now).await?
                {
                    return Err(StateError::RevisionAlreadyApproved.into());
                }
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::PlanApproved,
                    now,
                    &caller.subject,
                    &revision.to_string(),
                    &format!("Hilfeplan Revision {revision} genehmigt"),
                )
                .await?;
                change.audit(caller, "help_plan", &[id.0]).await?;
                let revisions =
                    store::plans::list(change.conn(), id, Some(revision + 1), 2).await?;
                let links = store::referrals::latest_of_case(change.conn(), id).await?;
                Ok(pb::ApprovePlanRevisionResponse {
                    plan: with_diffs(revisions, None, &links).into_iter().next(),
                })
            })
            .await
    }
}

/// Revisions (newest first) as the wire shows them, each with its diff against the next
/// older one; `before_oldest` is the revision before the last in `revisions`.
fn with_diffs(
    revisions: Vec<RevisionRow>,
    before_oldest: Option<RevisionRow>,
    links: &[(StepId, Uuid)],
) -> Vec<pb::HelpPlan> {
    let mut older: Vec<Option<&RevisionRow>> = revisions.iter().skip(1).map(Some).collect();
    older.push(before_oldest.as_ref());
    revisions
        .iter()
        .zip(older)
        .map(|(row, before)| {
            let before = before.filter(|b| b.revision == row.revision - 1);
            let diff = domain::diff(before.map_or(&[][..], |b| &b.goals), &row.goals);
            help_plan(row, diff, links)
        })
        .collect()
}

fn empty_plan(case: CaseId) -> pb::HelpPlan {
    pb::HelpPlan {
        case_id: case.to_string(),
        etag: "0".into(),
        ..Default::default()
    }
}

fn help_plan(row: &RevisionRow, diff: PlanDiff, links: &[(StepId, Uuid)]) -> pb::HelpPlan {
    let ids = |ids: &[Uuid]| ids.iter().map(Uuid::to_string).collect::<Vec<_>>();
    pb::HelpPlan {
        case_id: row.case_id.to_string(),
        revision: row.revision,
        cause: pb::RevisionCause::from(row.cause).into(),
        goals: row.goals.iter().map(|g| goal_to_wire(g, links)).collect(),
        diff: Some(pb::PlanDiff {
            goals_added: ids(&diff.goals_added.iter().map(|g| g.0).collect::<Vec<_>>()),
            goals_removed: ids(&diff.goals_removed.iter().map(|g| g.0).collect::<Vec<_>>()),
            goals_changed: diff
                .goals_changed
                .iter()
                .map(|c| pb::ItemChange {
                    id: c.id.to_string(),
                    fields: c.fields.iter().map(|f| (*f).to_owned()).collect(),
                })
                .collect(),
            steps_added: ids(&diff.steps_added.iter().map(|s| s.0).collect::<Vec<_>>()),
            steps_removed: ids(&diff.steps_removed.iter().map(|s| s.0).collect::<Vec<_>>()),
            steps_changed: diff
                .steps_changed
                .iter()
                .map(|c| pb::ItemChange {
                    id: c.id.to_string(),
                    fields: c.fields.iter().map(|f| (*f).to_owned()).collect(),
                })
                .collect(),
        }),
        author: row.author.clone(),
        create_time: Some(timestamp(row.created_at)),
        etag: row.revision.to_string(),
        approved_by: row
            .approved
            .as_ref()
            .map(|(by, _)| by.clone())
            .unwrap_or_default(),
        approve_time: row.approved.as_ref().map(|(_, at)| timestamp(*at)),
    }
}

fn goal_to_wire(g: &Goal, links: &[(StepId, Uuid)]) -> pb::Goal {
    pb::Goal {
        id: g.id.to_string(),
        category: pb::GoalCategory::from(g.category).into(),
        own_words: g.own_words.clone(),
        target_date: g.target_date.map(wire_date),
        status: pb::GoalStatus::from(g.status).into(),
        steps: g
            .steps
            .iter()
            .map(|s| pb::Step {
                id: s.id.to_string(),
                action: s.action.clone(),
                owner: pb::StepOwner::from(s.owner).into(),
                due_date: s.due_date.map(wire_date),
                status: pb::StepStatus::from(s.status).into(),
                referral_id: links
                    .iter()
                    .find(|(step, _)| *step == s.id)
                    .map(|(_, referral)| referral.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// A goal or step as sent: its id if it had one (the same item as before), else `None`.
type Sent<T> = (Option<Uuid>, T);

/// A goal as sent, with its steps as sent.
struct SentGoal {
    id: Option<Uuid>,
    category: GoalCategory,
    own_words: String,
    target_date: Option<chrono::NaiveDate>,
    status: GoalStatus,
    steps: Vec<Sent<SentStep>>,
}

struct SentStep {
    action: String,
    owner: StepOwner,
    due_date: Option<chrono::NaiveDate>,
    status: StepStatus,
}

/// Parses the goals of a revision; every bad field is named.
fn goals(v: &mut Violations, goals: &[pb::Goal]) -> Option<Vec<SentGoal>> {
    if goals.is_empty() || goals.len() > MAX_GOALS {
        v.add("goals", format!("must hold 1 to {MAX_GOALS} goals"));
    }
    let mut ids = HashSet::new();
    let mut parsed = Vec::with_capacity(goals.len());
    for (i, g) in goals.iter().enumerate() {
        let field = |name: &str| format!("goals[{i}].{name}");
        let id = v.check(&field("id"), optional_id(&g.id, &mut ids));
        let category = v.check(
            &field("category"),
            wire::enum_value::<pb::GoalCategory, GoalCategory>(g.category),
        );
        let own_words = v.check(&field("own_words"), wire::required_text(&g.own_words, 1000));
        let target_date = v.check(
            &field("target_date"),
            wire::optional_date(g.target_date.as_ref()),
        );
        let status = v.check(
            &field("status"),
            default_or::<pb::GoalStatus, _>(g.status, GoalStatus::Open),
        );
        if g.steps.len() > MAX_STEPS {
            v.add(
                field("steps"),
                format!("must hold at most {MAX_STEPS} steps"),
            );
        }
        let mut steps = Vec::with_capacity(g.steps.len());
        for (j, s) in g.steps.iter().enumerate() {
            let field = |name: &str| format!("goals[{i}].steps[{j}].{name}");
            let id = v.check(&field("id"), optional_id(&s.id, &mut ids));
            let action = v.check(&field("action"), wire::required_text(&s.action, 500));
            let owner = v.check(
                &field("owner"),
                wire::enum_value::<pb::StepOwner, StepOwner>(s.owner),
            );
            let due_date = v.check(&field("due_date"), wire::optional_date(s.due_date.as_ref()));
            let status = v.check(
                &field("status"),
                default_or::<pb::StepStatus, _>(s.status, StepStatus::Planned),
            );
            if let (Some(id), Some(action), Some(owner), Some(due_date), Some(status)) =
                (id, action, owner, due_date, status)
            {
                steps.push((
                    id,
                    SentStep {
                        action,
                        owner,
                        due_date,
                        status,
                    },
                ));
            }
        }
        if let (Some(id), Some(category), Some(own_words), Some(target_date), Some(status)) =
            (id, category, own_words, target_date, status)
        {
            parsed.push(SentGoal {
                id,
                category,
                own_words,
                target_date,
                status,
                steps,
            });
        }
    }
    v.is_empty().then_some(parsed)
}

/// An id that is empty (a new item) or a UUID not sent twice in the same plan.
fn optional_id(value: &str, seen: &mut HashSet<Uuid>) -> Result<Option<Uuid>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let id = wire::id(value)?;
    if !seen.insert(id) {
        return Err("is sent twice in this plan".into());
    }
    Ok(Some(id))
}

/// An enum that may be left unset, meaning `default`.
fn default_or<P, D>(value: i32, default: D) -> Result<D, String>
where
    P: TryFrom<i32>,
    D: TryFrom<P>,
{
    if value == 0 {
        Ok(default)
    } else {
        wire::enum_value::<P, D>(value)
    }
}

/// Gives new goals and steps their ids and checks that kept ids are goals and steps of the
/// current revision (INVALID_ARGUMENT naming each that is not).
fn identify(sent: Vec<SentGoal>, current: &[Goal]) -> Result<Vec<Goal>, ApiError> {
    let goal_ids: HashSet<Uuid> = current.iter().map(|g| g.id.0).collect();
    let step_ids: HashSet<Uuid> = current
        .iter()
        .flat_map(|g| &g.steps)
        .map(|s| s.id.0)
        .collect();
    let mut v = Violations::new();
    let mut goals = Vec::with_capacity(sent.len());
    for (i, g) in sent.into_iter().enumerate() {
        let id = match g.id {
            Some(id) if !goal_ids.contains(&id) => {
                v.add(
                    format!("goals[{i}].id"),
                    "is not a goal of the current plan",
                );
                GoalId(id)
            }
            Some(id) => GoalId(id),
            None => GoalId::generate(),
        };
        let mut steps = Vec::with_capacity(g.steps.len());
        for (j, (step_id, s)) in g.steps.into_iter().enumerate() {
            let step_id = match step_id {
                Some(id) if !step_ids.contains(&id) => {
                    v.add(
                        format!("goals[{i}].steps[{j}].id"),
                        "is not a step of the current plan",
                    );
                    StepId(id)
                }
                Some(id) => StepId(id),
                None => StepId::generate(),
            };
            steps.push(Step {
                id: step_id,
                action: s.action,
                owner: s.owner,
                due_date: s.due_date,
                status: s.status,
            });
        }
        goals.push(Goal {
            id,
            category: g.category,
            own_words: g.own_words,
            target_date: g.target_date,
            status: g.status,
            steps,
        });
    }
    v.finish(Some(goals))
}
