//! Reviews of the plan: progress per goal and the next review day, within what the agreement
//! in force allows.

use std::collections::HashSet;

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::caseplan as pb;

use super::{CasePlan, team_case};
use crate::{
    domain::{AgreementForm, CaseId, GoalId, GoalProgress, ReviewId, TimelineKind},
    store::{
        self,
        reviews::{GoalReviewRow, ReviewRow},
    },
};

impl CasePlan {
    /// RecordReview: progress per goal of the current plan, notes and the next review day.
    pub(super) async fn record_review(
        &self,
        caller: &Caller,
        request: pb::RecordReviewRequest,
    ) -> Result<pb::RecordReviewResponse, ApiError> {
        let today = office_day(self.clock.now());
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let review = wire::required(&mut v, "review", request.review.as_ref()).and_then(|r| {
            let notes = v.check("review.notes", wire::optional_text(&r.notes, 4000));
            let next = v.check(
                "review.next_review_date",
                wire::date(r.next_review_date.as_ref()).and_then(|d| {
                    if d <= today {
                        Err("must lie after today (Europe/Berlin)".to_owned())
                    } else {
                        Ok(d)
                    }
                }),
            );
            let goals = goals(&mut v, &r.goals);
            Some((notes?, next?, goals?))
        });
        let (id, (notes, next_review_date, goals)) = v.finish(id.zip(review))?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.may_change()?;
                // The agreement in force sets how far ahead the next review may lie.
                let form = match case.agreement_id {
                    Some(agreement) => store::agreements::get(change.conn(), agreement, false)
                        .await?
                        .map(|a| a.form),
                    None => None,
                };
                let latest = form
                    .unwrap_or(AgreementForm::SignedAgreement)
                    .latest_review(today);
                if next_review_date > latest {
                    return Err(ApiError::invalid(
                        "review.next_review_date",
                        format!("must not lie after {latest}, what the agreement in force allows"),
                    ));
                }
                // The case stays locked until commit: read the plan only when goals are named.
                if !goals.is_empty() {
                    goals_of_current_plan(change.conn(), id, case.plan_revision, &goals).await?;
                }
                let now = self.clock.now();
                let row = ReviewRow {
                    id: ReviewId::generate(),
                    case_id: id,
                    plan_revision: case.plan_revision,
                    goals,
                    notes,
                    next_review_date,
                    due_date: case.next_review_date,
                    author: caller.subject.clone(),
                    created_at: now,
                };
                store::reviews::insert(change.conn(), &row).await?;
                store::cases::set_next_review(change.conn(), id, next_review_date, now).await?;
                let on_time = row.due_date.is_none_or(|due| today <= due);
                let event = pb::ReviewRecorded {
                    case_id: id.to_string(),
                    review_id: row.id.to_string(),
                    on_time,
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::Reviewed,
                    now,
                    &caller.subject,
                    &row.id.to_string(),
                    &format!("Überprüfung, nächste am {next_review_date}"),
                )
                .await?;
                change.audit(caller, "review", &[row.id.0]).await?;
                metrics::counter!("caseplan_reviews_total", "on_time" => on_time.to_string())
                    .increment(1);
                Ok(pb::RecordReviewResponse {
                    review: Some(review_to_wire(row)),
                })
            })
            .await
    }

    /// ListReviews: a case's reviews, newest first (audited).
    pub(super) async fn list_reviews(
        &self,
        caller: &Caller,
        request: pb::ListReviewsRequest,
    ) -> Result<pb::ListReviewsResponse, ApiError> {
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
        let rows = store::reviews::list(read.conn(), id, page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        let ids: Vec<_> = rows.iter().map(|r| r.id.0).collect();
        read.audit(caller, "review", &ids).await?;
        Ok(pb::ListReviewsResponse {
            reviews: rows.into_iter().map(review_to_wire).collect(),
            next_page_token,
        })
    }
}

/// Every reviewed goal must be a goal of the current plan revision (INVALID_ARGUMENT naming
/// each that is not).
async fn goals_of_current_plan(
    conn: &mut sqlx::PgConnection,
    case: CaseId,
    revision: i32,
    goals: &[GoalReviewRow],
) -> Result<(), ApiError> {
    let current = store::plans::list(conn, case, Some(revision + 1), 1).await?;
    let plan_goals: HashSet<GoalId> = current
        .iter()
        .flat_map(|r| r.goals.iter().map(|g| g.id))
        .collect();
    let mut unknown = Violations::new();
    for (i, g) in goals.iter().enumerate() {
        if !plan_goals.contains(&g.goal_id) {
            unknown.add(
                format!("review.goals[{i}].goal_id"),
                "is not a goal of the current plan",
            );
        }
    }
    unknown.finish(Some(()))
}

/// Parses the goals' progress; each goal at most once.
fn goals(v: &mut Violations, goals: &[pb::GoalReview]) -> Option<Vec<GoalReviewRow>> {
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(goals.len());
    let mut ok = true;
    for (i, g) in goals.iter().enumerate() {
        let id = v.check(
            &format!("review.goals[{i}].goal_id"),
            wire::id(&g.goal_id).and_then(|id| {
                if seen.insert(id) {
                    Ok(GoalId(id))
                } else {
                    Err("is reviewed twice".into())
                }
            }),
        );
        let progress = v.check(
            &format!("review.goals[{i}].progress"),
            wire::enum_value::<pb::GoalProgress, GoalProgress>(g.progress),
        );
        let note = v.check(
            &format!("review.goals[{i}].note"),
            wire::optional_text(&g.note, 2000),
        );
        match (id, progress, note) {
            (Some(goal_id), Some(progress), Some(note)) => parsed.push(GoalReviewRow {
                goal_id,
                progress,
                note,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(parsed)
}

fn review_to_wire(r: ReviewRow) -> pb::Review {
    pb::Review {
        id: r.id.to_string(),
        case_id: r.case_id.to_string(),
        plan_revision: r.plan_revision,
        goals: r
            .goals
            .into_iter()
            .map(|g| pb::GoalReview {
                goal_id: g.goal_id.to_string(),
                progress: pb::GoalProgress::from(g.progress).into(),
                note: g.note,
            })
            .collect(),
        notes: r.notes,
        next_review_date: Some(wire_date(r.next_review_date)),
        due_date: r.due_date.map(wire_date),
        author: r.author,
        create_time: Some(timestamp(r.created_at)),
    }
}
