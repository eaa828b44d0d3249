//! case-plan's messages as lines for a person: a case as a clerk needs it at a glance, a plan
//! as its goals with their steps, lists one line per item.

use fallwerk_proto::{caseplan as pb, types};

use super::{dash_if_empty, date, fields, lines_or_none, more, short_name, table, time};

/// A case: who, where it stands, what comes next, and the etag a change needs.
pub fn case(case: &pb::Case) -> String {
    let client = case.client.clone().unwrap_or_default();
    let mut rows = vec![
        ("case", case.id.clone()),
        ("client", dash_if_empty(&client.display_name)),
        ("state", short_name(case.state, pb::CaseState::as_str_name)),
        ("advisor", dash_if_empty(&case.responsible_advisor_id)),
        ("legal basis", legal_basis(case.legal_basis)),
        ("plan", revision(case.plan_revision)),
        ("next review", date(case.next_review_date.as_ref())),
        ("next due", date(case.next_due_date.as_ref())),
        ("agreement", none_if_empty(&case.agreement_id)),
        ("opened", time(case.open_time.as_ref())),
    ];
    if let Some(closure) = &case.closure {
        let outcome = short_name(closure.outcome, pb::CaseOutcome::as_str_name);
        rows.push((
            "closed",
            format!(
                "{} by {}: {outcome}",
                time(closure.close_time.as_ref()),
                closure.closed_by
            ) + &note(&closure.note),
        ));
        let follow_up = match &closure.follow_up {
            Some(f) => {
                format!(
                    "{}: {}",
                    date(closure.follow_up_date.as_ref()),
                    short_name(f.result, pb::FollowUpResult::as_str_name)
                ) + &note(&f.note)
            }
            None => format!(
                "{} (not recorded yet)",
                date(closure.follow_up_date.as_ref())
            ),
        };
        rows.push(("follow-up", follow_up));
    }
    if let Some(hold) = &case.legal_hold {
        rows.push((
            "legal hold",
            format!(
                "since {} by {}: {}",
                time(hold.place_time.as_ref()),
                hold.placed_by,
                hold.reason
            ),
        ));
    }
    rows.push(("etag", case.etag.clone()));
    fields(&rows)
}

/// A page of cases.
pub fn cases(cases: &[pb::Case], next_page_token: &str) -> String {
    if cases.is_empty() {
        return "No cases.\n".into();
    }
    let rows = cases
        .iter()
        .map(|c| {
            vec![
                dash_if_empty(&c.client.clone().unwrap_or_default().display_name),
                short_name(c.state, pb::CaseState::as_str_name),
                legal_basis(c.legal_basis),
                c.plan_revision.to_string(),
                date(c.next_review_date.as_ref()),
                date(c.next_due_date.as_ref()),
                c.id.clone(),
            ]
        })
        .collect();
    table(
        &["CLIENT", "STATE", "BASIS", "PLAN", "REVIEW", "DUE", "ID"],
        rows,
    ) + &more(next_page_token)
}

/// A plan revision, then its goals with their steps and the ids a revision or review needs.
pub fn plan(plan: &pb::HelpPlan) -> String {
    if plan.revision == 0 {
        return format!(
            "No plan yet. Make the first:\n  \
             fallwerk plan revise {} --cause first-plan --etag {} --file PLAN.json\n\
             (`fallwerk plan revise --help` shows the file)\n",
            plan.case_id, plan.etag
        );
    }
    let approved = if plan.approved_by.is_empty() {
        "no".to_owned()
    } else {
        format!(
            "by {} at {}",
            plan.approved_by,
            time(plan.approve_time.as_ref())
        )
    };
    let mut text = fields(&[
        ("case", plan.case_id.clone()),
        (
            "revision",
            format!(
                "{} ({}), by {} at {}",
                plan.revision,
                short_name(plan.cause, pb::RevisionCause::as_str_name),
                plan.author,
                time(plan.create_time.as_ref())
            ),
        ),
        ("approved", approved),
        ("etag", plan.etag.clone()),
    ]);
    for (n, goal) in plan.goals.iter().enumerate() {
        text += &format!(
            "\n{}. {}: {}\n   {}, by {}; id {}\n",
            n + 1,
            short_name(goal.category, pb::GoalCategory::as_str_name),
            goal.own_words,
            short_name(goal.status, pb::GoalStatus::as_str_name),
            date(goal.target_date.as_ref()),
            goal.id
        );
        for step in &goal.steps {
            text += &format!(
                "   - {} ({}): {}, by {}; id {}\n",
                step.action,
                short_name(step.owner, pb::StepOwner::as_str_name),
                short_name(step.status, pb::StepStatus::as_str_name),
                date(step.due_date.as_ref()),
                step.id
            );
        }
    }
    text
}

/// A page of plan revisions, each with a count of what changed.
pub fn revisions(revisions: &[pb::HelpPlan], next_page_token: &str) -> String {
    if revisions.is_empty() {
        return "No plan yet.\n".into();
    }
    let rows = revisions
        .iter()
        .map(|r| {
            vec![
                r.revision.to_string(),
                short_name(r.cause, pb::RevisionCause::as_str_name),
                time(r.create_time.as_ref()),
                r.author.clone(),
                dash_if_empty(&r.approved_by),
                r.diff.as_ref().map_or_else(|| "-".to_owned(), changes),
            ]
        })
        .collect();
    table(
        &["REV", "CAUSE", "MADE", "BY", "APPROVED BY", "CHANGES"],
        rows,
    ) + &more(next_page_token)
}

/// `+1 goal, 2 steps changed`: a diff counted, for one line.
fn changes(diff: &pb::PlanDiff) -> String {
    let counts = [
        (diff.goals_added.len(), "+", "goal"),
        (diff.goals_removed.len(), "-", "goal"),
        (diff.goals_changed.len(), "~", "goal"),
        (diff.steps_added.len(), "+", "step"),
        (diff.steps_removed.len(), "-", "step"),
        (diff.steps_changed.len(), "~", "step"),
    ];
    let parts: Vec<_> = counts
        .iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, sign, what)| format!("{sign}{n} {what}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// An agreement with its acknowledgement, comments and dispute.
pub fn agreement(agreement: &pb::Agreement) -> String {
    let mut rows = vec![
        ("agreement", agreement.id.clone()),
        ("case", agreement.case_id.clone()),
        (
            "form",
            short_name(agreement.form, pb::AgreementForm::as_str_name),
        ),
        (
            "state",
            short_name(agreement.state, pb::AgreementState::as_str_name),
        ),
        ("plan", revision(agreement.plan_revision)),
        ("review by", date(agreement.review_date.as_ref())),
        (
            "in force",
            format!(
                "{} to {}",
                or(date(agreement.start_date.as_ref()), "the day agreed"),
                or(date(agreement.end_date.as_ref()), "open end"),
            ),
        ),
        ("text", agreement.text.clone()),
    ];
    if let Some(ack) = &agreement.acknowledgement {
        let mut how = vec![short_name(
            ack.channel,
            pb::AcknowledgementChannel::as_str_name,
        )];
        for (given, what) in [
            (ack.client_signed, "client signed"),
            (ack.office_signed, "office signed"),
            (ack.client_assent, "client assented"),
        ] {
            if given {
                how.push(what.to_owned());
            }
        }
        rows.push((
            "agreed",
            format!(
                "{}, recorded by {} at {}",
                how.join(", "),
                ack.recorded_by,
                time(ack.record_time.as_ref())
            ),
        ));
    }
    let comments: Vec<_> = agreement
        .comments
        .iter()
        .map(|c| {
            let kind = if c.counter_proposal {
                "counter-proposal"
            } else {
                "comment"
            };
            format!(
                "{} {} ({kind}): {}",
                time(c.create_time.as_ref()),
                short_name(c.author, pb::CommentAuthor::as_str_name),
                c.text
            )
        })
        .collect();
    rows.push(("comments", lines_or_none(&comments)));
    if let Some(dispute) = &agreement.dispute {
        rows.push((
            "dispute",
            format!(
                "{}: {}",
                time(dispute.raise_time.as_ref()),
                dispute.objection
            ),
        ));
        if dispute.resolve_time.is_some() {
            rows.push((
                "resolved",
                format!(
                    "{}: {} ({})",
                    time(dispute.resolve_time.as_ref()),
                    dispute.resolution,
                    short_name(dispute.outcome, pb::DisputeOutcome::as_str_name)
                ),
            ));
        }
    }
    if !agreement.decline_reason.is_empty() {
        rows.push(("declined", agreement.decline_reason.clone()));
    }
    if !agreement.supersedes_id.is_empty() {
        rows.push(("supersedes", agreement.supersedes_id.clone()));
    }
    rows.push(("etag", agreement.etag.clone()));
    fields(&rows)
}

/// A page of a case's agreements.
pub fn agreements(agreements: &[pb::Agreement], next_page_token: &str) -> String {
    if agreements.is_empty() {
        return "No agreements.\n".into();
    }
    let rows = agreements
        .iter()
        .map(|a| {
            vec![
                short_name(a.state, pb::AgreementState::as_str_name),
                short_name(a.form, pb::AgreementForm::as_str_name),
                a.plan_revision.to_string(),
                date(a.review_date.as_ref()),
                time(a.create_time.as_ref()),
                a.id.clone(),
            ]
        })
        .collect();
    table(
        &["STATE", "FORM", "PLAN", "REVIEW BY", "DRAFTED", "ID"],
        rows,
    ) + &more(next_page_token)
}

/// A review with the progress of each goal.
pub fn review(review: &pb::Review) -> String {
    fields(&[
        ("review", review.id.clone()),
        ("case", review.case_id.clone()),
        ("plan", revision(review.plan_revision)),
        (
            "recorded",
            format!("{} by {}", time(review.create_time.as_ref()), review.author),
        ),
        ("was due", date(review.due_date.as_ref())),
        ("goals", lines_or_none(&goal_progress(review))),
        ("notes", dash_if_empty(&review.notes)),
        ("next review", date(review.next_review_date.as_ref())),
    ])
}

/// A page of a case's reviews.
pub fn reviews(reviews: &[pb::Review], next_page_token: &str) -> String {
    if reviews.is_empty() {
        return "No reviews.\n".into();
    }
    let rows = reviews
        .iter()
        .map(|r| {
            let reached = r
                .goals
                .iter()
                .filter(|g| g.progress == i32::from(pb::GoalProgress::Reached))
                .count();
            vec![
                time(r.create_time.as_ref()),
                r.plan_revision.to_string(),
                date(r.due_date.as_ref()),
                date(r.next_review_date.as_ref()),
                format!("{reached} of {} reached", r.goals.len()),
                r.author.clone(),
                r.id.clone(),
            ]
        })
        .collect();
    table(
        &["RECORDED", "PLAN", "WAS DUE", "NEXT", "GOALS", "BY", "ID"],
        rows,
    ) + &more(next_page_token)
}

fn goal_progress(review: &pb::Review) -> Vec<String> {
    review
        .goals
        .iter()
        .map(|g| {
            format!(
                "{}: {}",
                g.goal_id,
                short_name(g.progress, pb::GoalProgress::as_str_name)
            ) + &note(&g.note)
        })
        .collect()
}

/// What is due, one line an item, in the order the service answered (most urgent first).
pub fn due_items(items: &[pb::DueItem], next_page_token: &str) -> String {
    if items.is_empty() {
        return "Nothing is due.\n".into();
    }
    let rows = items
        .iter()
        .map(|i| {
            vec![
                date(i.due_date.as_ref()),
                short_name(i.kind, pb::DueKind::as_str_name),
                dash_if_empty(&i.client_display_name),
                i.case_id.clone(),
                dash_if_empty(&i.summary),
            ]
        })
        .collect();
    table(&["DUE", "WHAT", "CLIENT", "CASE", "DETAIL"], rows) + &more(next_page_token)
}

/// A case's timeline, one line an entry, oldest first.
pub fn timeline(entries: &[pb::TimelineEntry], next_page_token: &str) -> String {
    if entries.is_empty() {
        return "Nothing happened yet.\n".into();
    }
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                time(e.occur_time.as_ref()),
                e.actor.clone(),
                dash_if_empty(&e.summary),
            ]
        })
        .collect();
    table(&["WHEN", "WHO", "WHAT"], rows) + &more(next_page_token)
}

/// A team's case figures, then its closures by outcome.
pub fn case_figures(figures: &pb::GetCaseFiguresResponse) -> String {
    let share = |part: i32, whole: i32| {
        if whole > 0 {
            format!("{part} of {whole}")
        } else {
            "-".to_owned()
        }
    };
    let summary = fields(&[
        ("opened", figures.cases_opened.to_string()),
        ("closed", figures.cases_closed.to_string()),
        (
            "median length",
            if figures.cases_closed > 0 {
                format!("{:.0} days", figures.median_case_days)
            } else {
                "-".to_owned()
            },
        ),
        (
            "early agreement",
            if figures.cases_opened > 0 {
                format!("{:.0}% of opened", figures.agreement_early_rate * 100.0)
            } else {
                "-".to_owned()
            },
        ),
        (
            "reviews on time",
            share(figures.reviews_on_time, figures.reviews),
        ),
        (
            "lasting",
            share(figures.follow_ups_lasting, figures.follow_ups),
        ),
    ]);
    if figures.closed_by_outcome.is_empty() {
        return summary;
    }
    let rows = figures
        .closed_by_outcome
        .iter()
        .map(|o| {
            vec![
                short_name(o.outcome, pb::CaseOutcome::as_str_name),
                o.cases.to_string(),
            ]
        })
        .collect();
    summary + "\n" + &table(&["OUTCOME", "CASES"], rows)
}

/// The legal basis as the office writes it.
fn legal_basis(value: i32) -> String {
    match types::LegalBasis::try_from(value) {
        Ok(types::LegalBasis::Unspecified) => "not set".to_owned(),
        Ok(types::LegalBasis::SgbIi) => "SGB II".to_owned(),
        Ok(types::LegalBasis::SgbXiiChapter3) => "SGB XII ch. 3".to_owned(),
        Ok(types::LegalBasis::Other) => "other".to_owned(),
        Err(_) => short_name(value, types::LegalBasis::as_str_name),
    }
}

fn revision(revision: i32) -> String {
    match revision {
        0 => "none yet".to_owned(),
        n => format!("revision {n}"),
    }
}

fn none_if_empty(text: &str) -> String {
    if text.is_empty() { "none" } else { text }.to_owned()
}

/// `-` replaced by what an unset date means here.
fn or(text: String, unset: &str) -> String {
    if text == "-" { unset.to_owned() } else { text }
}

/// ` (note)`, or nothing for no note.
fn note(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!(" ({note})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_reads_as_counts_of_what_changed() {
        let diff = pb::PlanDiff {
            goals_added: vec!["g".into()],
            steps_changed: vec![pb::ItemChange::default(), pb::ItemChange::default()],
            ..Default::default()
        };
        assert_eq!(changes(&diff), "+1 goal, ~2 steps");
        assert_eq!(changes(&pb::PlanDiff::default()), "none");
    }

    #[test]
    fn a_case_without_a_plan_says_so_and_shows_its_etag() {
        let text = case(&pb::Case {
            id: "c1".into(),
            state: pb::CaseState::Open.into(),
            etag: "7".into(),
            ..Default::default()
        });
        assert!(text.contains("state        open\n"), "{text}");
        assert!(text.contains("legal basis  not set\n"), "{text}");
        assert!(text.contains("plan         none yet\n"), "{text}");
        assert!(text.ends_with("etag         7\n"), "{text}");
    }
}
