//! case-plan's messages as JSON, in the same shape as intake's. A shown plan's goals are what
//! `plan revise --file` reads back, so a plan is changed by editing its own `--json`.

use fallwerk_proto::{caseplan as pb, types};
use serde_json::{Value, json};

use super::{date, enum_value, list, timestamp};

/// A case with its client, first consultation and closure.
pub fn case(case: &pb::Case) -> Value {
    json!({
        "id": case.id,
        "applicant_id": case.applicant_id,
        "team_id": case.team_id,
        "responsible_advisor_id": case.responsible_advisor_id,
        "state": enum_value(case.state, pb::CaseState::as_str_name),
        "client": case.client.as_ref().map(|c| json!({
            "display_name": c.display_name,
            "birth_date": date(c.birth_date.as_ref()),
            "interpreter_language": c.interpreter_language,
            "single_parent": c.single_parent,
            "youngest_child_age": c.youngest_child_age,
        })),
        "first_consultation": case.first_consultation.as_ref().map(first_consultation),
        "legal_basis": enum_value(case.legal_basis, types::LegalBasis::as_str_name),
        "open_time": timestamp(case.open_time.as_ref()),
        "plan_revision": case.plan_revision,
        "next_due_date": date(case.next_due_date.as_ref()),
        "next_review_date": date(case.next_review_date.as_ref()),
        "agreement_id": case.agreement_id,
        "closure": case.closure.as_ref().map(closure),
        "legal_hold": case.legal_hold.as_ref().map(|hold| json!({
            "reason": hold.reason,
            "placed_by": hold.placed_by,
            "place_time": timestamp(hold.place_time.as_ref()),
        })),
        "etag": case.etag,
        "update_time": timestamp(case.update_time.as_ref()),
    })
}

fn first_consultation(first: &pb::FirstConsultation) -> Value {
    let barriers: Vec<Value> = first
        .barriers
        .iter()
        .map(|b| enum_value(*b, types::Barrier::as_str_name))
        .collect();
    json!({
        "consultation_id": first.consultation_id,
        "consulting_advisor_id": first.consulting_advisor_id,
        "start_time": timestamp(first.start_time.as_ref()),
        "same_day": first.same_day,
        "first_steps": first.first_steps,
        "self_help_options": first.self_help_options,
        "office_offers": first.office_offers,
        "capacity_to_work": enum_value(first.capacity_to_work, types::CapacityToWork::as_str_name),
        "activation_track": enum_value(first.activation_track, types::ActivationTrack::as_str_name),
        "barriers": barriers,
    })
}

fn closure(closure: &pb::Closure) -> Value {
    json!({
        "outcome": enum_value(closure.outcome, pb::CaseOutcome::as_str_name),
        "note": closure.note,
        "follow_up_date": date(closure.follow_up_date.as_ref()),
        "close_time": timestamp(closure.close_time.as_ref()),
        "closed_by": closure.closed_by,
        "follow_up": closure.follow_up.as_ref().map(|f| json!({
            "result": enum_value(f.result, pb::FollowUpResult::as_str_name),
            "note": f.note,
            "record_time": timestamp(f.record_time.as_ref()),
            "recorded_by": f.recorded_by,
        })),
    })
}

/// One revision of a help plan.
pub fn plan(plan: &pb::HelpPlan) -> Value {
    json!({
        "case_id": plan.case_id,
        "revision": plan.revision,
        "cause": enum_value(plan.cause, pb::RevisionCause::as_str_name),
        "goals": list(&plan.goals, goal),
        "diff": plan.diff.as_ref().map(diff),
        "author": plan.author,
        "create_time": timestamp(plan.create_time.as_ref()),
        "etag": plan.etag,
        "approved_by": plan.approved_by,
        "approve_time": timestamp(plan.approve_time.as_ref()),
    })
}

/// A goal; its keys are exactly those a plan file's goal may have.
fn goal(goal: &pb::Goal) -> Value {
    json!({
        "id": goal.id,
        "category": enum_value(goal.category, pb::GoalCategory::as_str_name),
        "own_words": goal.own_words,
        "target_date": date(goal.target_date.as_ref()),
        "status": enum_value(goal.status, pb::GoalStatus::as_str_name),
        "steps": list(&goal.steps, step),
    })
}

/// A step; its keys are exactly those a plan file's step may have.
fn step(step: &pb::Step) -> Value {
    json!({
        "id": step.id,
        "action": step.action,
        "owner": enum_value(step.owner, pb::StepOwner::as_str_name),
        "due_date": date(step.due_date.as_ref()),
        "status": enum_value(step.status, pb::StepStatus::as_str_name),
        "referral_id": step.referral_id,
    })
}

fn diff(diff: &pb::PlanDiff) -> Value {
    let changes =
        |items: &[pb::ItemChange]| list(items, |c| json!({ "id": c.id, "fields": c.fields }));
    json!({
        "goals_added": diff.goals_added,
        "goals_removed": diff.goals_removed,
        "goals_changed": changes(&diff.goals_changed),
        "steps_added": diff.steps_added,
        "steps_removed": diff.steps_removed,
        "steps_changed": changes(&diff.steps_changed),
    })
}

/// A help agreement with its comments and dispute.
pub fn agreement(agreement: &pb::Agreement) -> Value {
    json!({
        "id": agreement.id,
        "case_id": agreement.case_id,
        "plan_revision": agreement.plan_revision,
        "form": enum_value(agreement.form, pb::AgreementForm::as_str_name),
        "state": enum_value(agreement.state, pb::AgreementState::as_str_name),
        "text": agreement.text,
        "review_date": date(agreement.review_date.as_ref()),
        "start_date": date(agreement.start_date.as_ref()),
        "end_date": date(agreement.end_date.as_ref()),
        "acknowledgement": agreement.acknowledgement.as_ref().map(|a| json!({
            "channel": enum_value(a.channel, pb::AcknowledgementChannel::as_str_name),
            "client_signed": a.client_signed,
            "office_signed": a.office_signed,
            "client_assent": a.client_assent,
            "record_time": timestamp(a.record_time.as_ref()),
            "recorded_by": a.recorded_by,
        })),
        "comments": list(&agreement.comments, |c| json!({
            "author": enum_value(c.author, pb::CommentAuthor::as_str_name),
            "text": c.text,
            "counter_proposal": c.counter_proposal,
            "create_time": timestamp(c.create_time.as_ref()),
            "recorded_by": c.recorded_by,
        })),
        "dispute": agreement.dispute.as_ref().map(|d| json!({
            "objection": d.objection,
            "raise_time": timestamp(d.raise_time.as_ref()),
            "resolution": d.resolution,
            "outcome": enum_value(d.outcome, pb::DisputeOutcome::as_str_name),
            "resolve_time": timestamp(d.resolve_time.as_ref()),
        })),
        "decline_reason": agreement.decline_reason,
        "supersedes_id": agreement.supersedes_id,
        "etag": agreement.etag,
        "create_time": timestamp(agreement.create_time.as_ref()),
        "update_time": timestamp(agreement.update_time.as_ref()),
    })
}

/// A review of the plan.
pub fn review(review: &pb::Review) -> Value {
    json!({
        "id": review.id,
        "case_id": review.case_id,
        "plan_revision": review.plan_revision,
        "goals": list(&review.goals, |g| json!({
            "goal_id": g.goal_id,
            "progress": enum_value(g.progress, pb::GoalProgress::as_str_name),
            "note": g.note,
        })),
        "notes": review.notes,
        "next_review_date": date(review.next_review_date.as_ref()),
        "due_date": date(review.due_date.as_ref()),
        "author": review.author,
        "create_time": timestamp(review.create_time.as_ref()),
    })
}

/// One thing due in a case.
pub fn due_item(item: &pb::DueItem) -> Value {
    json!({
        "case_id": item.case_id,
        "client_display_name": item.client_display_name,
        "kind": enum_value(item.kind, pb::DueKind::as_str_name),
        "due_date": date(item.due_date.as_ref()),
        "subject_id": item.subject_id,
        "summary": item.summary,
        "responsible_advisor_id": item.responsible_advisor_id,
    })
}

/// One event of a case's timeline.
pub fn timeline_entry(entry: &pb::TimelineEntry) -> Value {
    json!({
        "kind": enum_value(entry.kind, pb::TimelineKind::as_str_name),
        "occur_time": timestamp(entry.occur_time.as_ref()),
        "actor": entry.actor,
        "subject_id": entry.subject_id,
        "summary": entry.summary,
    })
}

/// A team's case figures over a range of days.
pub fn case_figures(figures: &pb::GetCaseFiguresResponse) -> Value {
    json!({
        "cases_opened": figures.cases_opened,
        "cases_closed": figures.cases_closed,
        "closed_by_outcome": list(&figures.closed_by_outcome, |o| json!({
            "outcome": enum_value(o.outcome, pb::CaseOutcome::as_str_name),
            "cases": o.cases,
        })),
        "median_case_days": figures.median_case_days,
        "agreement_early_rate": figures.agreement_early_rate,
        "reviews": figures.reviews,
        "reviews_on_time": figures.reviews_on_time,
        "follow_ups": figures.follow_ups,
        "follow_ups_lasting": figures.follow_ups_lasting,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::caseplan::plan_goals;

    #[test]
    fn a_shown_plan_reads_back_as_the_same_goals() {
        let goals = vec![pb::Goal {
            id: "3f2c0d9e-0000-4000-8000-000000000001".into(),
            category: pb::GoalCategory::SocialStability.into(),
            own_words: "Ein fester Tagesablauf".into(),
            target_date: None,
            status: pb::GoalStatus::Open.into(),
            steps: vec![pb::Step {
                id: String::new(),
                action: "Termin bei der Suchtberatung".into(),
                owner: pb::StepOwner::Partner.into(),
                due_date: Some(fallwerk_proto::google::r#type::Date {
                    year: 2026,
                    month: 1,
                    day: 15,
                }),
                status: pb::StepStatus::Planned.into(),
                referral_id: String::new(),
            }],
        }];
        let shown = plan(&pb::HelpPlan {
            revision: 2,
            goals: goals.clone(),
            ..Default::default()
        });
        assert_eq!(plan_goals(&shown.to_string()), Ok(goals));
    }
}
