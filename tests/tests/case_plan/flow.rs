//! The seed's single mother, from the walk-in at intake to the closure in case-plan.

use fallwerk_proto::{caseplan as pb, types};

use crate::{World, date, first_plan, step, text_form};

#[tokio::test]
async fn a_case_opened_at_intake_is_planned_revised_and_closed_in_case_plan() {
    let world = World::open().await;
    let office = &world.office;
    let open_before = office.open_cases_of("advisor-1").await;

    // Same-day consultation at intake, case opened with the consulting advisor.
    let opened = world.open_case(&office.desk, &office.advisor).await;
    let opening = opened.case_opening.expect("case opening");
    assert_eq!(office.open_cases_of("advisor-1").await, open_before + 1);

    // case-plan has the case from intake's feed alone, with what the first day found; read at
    // OpenCase's feed position, it is there at once.
    let case = world
        .read_case_at(&office.advisor, &opening.case_id, opened.feed_position)
        .await;
    assert_eq!(case.state(), pb::CaseState::Open);
    assert_eq!(case.applicant_id, opening.applicant_id);
    assert_eq!(case.responsible_advisor_id, opening.responsible_advisor_id);
    assert_eq!(case.team_id, office.team.to_string());
    let client = case.client.clone().expect("client");
    assert_eq!(client.display_name, "Anna Weber");
    assert!(client.single_parent);
    assert_eq!(client.youngest_child_age, Some(3));
    let first = case.first_consultation.clone().expect("first consultation");
    assert_eq!(
        first.first_steps,
        ["Kita-Platz beantragen", "Bewerbungsunterlagen mitbringen"]
    );
    assert_eq!(first.self_help_options, ["Unterhalt vom Vater einfordern"]);
    assert_eq!(first.office_offers, ["Schuldnerberatung"]);
    assert!(first.same_day);
    assert_eq!(case.plan_revision, 0);

    // The advisor's caseload lists it.
    let mut plans = world.plans(&office.advisor).await;
    let mine = plans
        .list_cases(pb::ListCasesRequest {
            scope: pb::CaseScope::Mine.into(),
            ..Default::default()
        })
        .await
        .expect("my cases")
        .into_inner();
    assert_eq!(
        mine.cases.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [opening.case_id.as_str()]
    );

    // The first plan: a childcare goal and a work goal with their steps.
    let plan = plans
        .revise_help_plan(first_plan(&opening.case_id))
        .await
        .expect("first plan")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(plan.revision, 1);
    assert_eq!(plan.goals.len(), 2);
    assert!(plan.goals.iter().all(|g| !g.id.is_empty()));
    assert_eq!(plan.goals[1].steps[0].status(), pb::StepStatus::Planned);
    let diff = plan.diff.clone().expect("diff");
    assert_eq!(diff.goals_added.len(), 2);
    assert_eq!(diff.steps_added.len(), 3);
    assert_eq!(plan.author, "advisor-1");

    // The case shows the plan and what is due first.
    let case = world.read_case(&office.advisor, &opening.case_id).await;
    assert_eq!(case.plan_revision, 1);
    assert_eq!(case.next_due_date, date(2027, 1, 15));

    // She receives Bürgergeld: a cooperation plan (§ 15 SGB II) is proposed, she asks for
    // applications to start once the Kita place is certain, and agrees by e-mail.
    let case = plans
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                legal_basis: types::LegalBasis::SgbIi.into(),
                etag: case.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["legal_basis".into()],
            }),
        })
        .await
        .expect("legal basis")
        .into_inner()
        .case
        .expect("case");
    let draft = world.draft(&case.id, date(2027, 3, 1)).await;
    assert_eq!(draft.form(), pb::AgreementForm::CooperationPlan);
    let proposed = plans
        .propose_agreement(pb::ProposeAgreementRequest {
            request_id: String::new(),
            agreement_id: draft.id.clone(),
            etag: draft.etag.clone(),
        })
        .await
        .expect("proposed")
        .into_inner()
        .agreement
        .expect("agreement");
    let commented = plans
        .comment_on_agreement(pb::CommentOnAgreementRequest {
            request_id: String::new(),
            agreement_id: proposed.id.clone(),
            comment: Some(pb::AgreementComment {
                author: pb::CommentAuthor::Client.into(),
                text: "Bewerbungen erst, wenn der Kita-Platz sicher ist".into(),
                counter_proposal: true,
                ..Default::default()
            }),
            etag: proposed.etag.clone(),
        })
        .await
        .expect("commented")
        .into_inner()
        .agreement
        .expect("agreement");
    let first_agreement = plans
        .accept_agreement(pb::AcceptAgreementRequest {
            request_id: String::new(),
            agreement_id: commented.id.clone(),
            acknowledgement: Some(text_form()),
            etag: commented.etag.clone(),
        })
        .await
        .expect("agreed in text form")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(first_agreement.state(), pb::AgreementState::Active);

    // The review on time: the childcare goal is reached.
    plans
        .record_review(pb::RecordReviewRequest {
            case_id: case.id.clone(),
            review: Some(pb::Review {
                goals: vec![pb::GoalReview {
                    goal_id: plan.goals[0].id.clone(),
                    progress: pb::GoalProgress::Reached.into(),
                    note: "Kita ab Januar".into(),
                }],
                next_review_date: date(2027, 5, 1),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("review");

    // At the review the childcare step is done, the CV step moves, a step is added.
    let mut goals = plan.goals.clone();
    goals[0].steps[0].status = pb::StepStatus::Done.into();
    goals[0].status = pb::GoalStatus::Achieved.into();
    goals[1].steps[0].due_date = date(2027, 2, 15);
    goals[1].steps.push(step(
        "Vorstellungsgespräch Seniorenheim",
        pb::StepOwner::Client,
        date(2027, 2, 1),
    ));
    let revised = plans
        .revise_help_plan(pb::ReviseHelpPlanRequest {
            case_id: opening.case_id.clone(),
            goals,
            cause: pb::RevisionCause::Review.into(),
            etag: plan.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("revision after review")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(revised.revision, 2);
    let diff = revised.diff.clone().expect("diff");
    assert!(diff.goals_added.is_empty() && diff.goals_removed.is_empty());
    assert_eq!(diff.goals_changed.len(), 1);
    assert_eq!(diff.goals_changed[0].id, plan.goals[0].id);
    assert_eq!(diff.goals_changed[0].fields, ["status"]);
    assert_eq!(diff.steps_added.len(), 1);
    let changed: Vec<(&str, Vec<String>)> = diff
        .steps_changed
        .iter()
        .map(|c| (c.id.as_str(), c.fields.clone()))
        .collect();
    assert_eq!(
        changed,
        [
            (
                plan.goals[0].steps[0].id.as_str(),
                vec!["status".to_owned()]
            ),
            (
                plan.goals[1].steps[0].id.as_str(),
                vec!["due_date".to_owned()]
            ),
        ]
    );
    let case = world.read_case(&office.advisor, &opening.case_id).await;
    assert_eq!(case.next_due_date, date(2027, 2, 1));

    // The new revision gets a new agreement, which supersedes the first.
    let second_draft = world.draft(&case.id, date(2027, 5, 1)).await;
    assert_eq!(second_draft.plan_revision, 2);
    let second_agreement = world
        .agree(second_draft, text_form())
        .await
        .expect("second agreement");
    assert_eq!(second_agreement.supersedes_id, first_agreement.id);
    assert_eq!(
        world.agreement(&first_agreement.id).await.state(),
        pb::AgreementState::Superseded
    );
    let case = world.read_case(&office.advisor, &opening.case_id).await;
    assert_eq!(case.agreement_id, second_agreement.id);

    // Both revisions are kept, newest first.
    let history = plans
        .list_plan_revisions(pb::ListPlanRevisionsRequest {
            case_id: opening.case_id.clone(),
            ..Default::default()
        })
        .await
        .expect("revisions")
        .into_inner();
    assert_eq!(
        history
            .revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(history.revisions[1].goals, plan.goals);

    // She takes up work: the case closes, and intake counts it out of the advisor's caseload.
    let closed = plans
        .close_case(pb::CloseCaseRequest {
            case_id: opening.case_id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::WorkTakenUp.into(),
                note: "Teilzeit im Seniorenheim ab 1. März".into(),
                follow_up_date: date(2099, 9, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("case closed")
        .into_inner()
        .case
        .expect("case");
    assert_eq!(closed.state(), pb::CaseState::Closed);
    let closed_etag = closed.etag.clone();
    let closure = closed.closure.expect("closure");
    assert_eq!(closure.outcome(), pb::CaseOutcome::WorkTakenUp);
    assert_eq!(closure.closed_by, "advisor-1");
    office
        .eventually_open_cases_of("advisor-1", open_before)
        .await;
    assert_eq!(
        world.agreement(&second_agreement.id).await.state(),
        pb::AgreementState::Ended,
        "the agreement ends with the case"
    );

    // Half a year later the follow-up finds the effect lasted.
    let followed = plans
        .record_follow_up(pb::RecordFollowUpRequest {
            request_id: String::new(),
            case_id: opening.case_id.clone(),
            follow_up: Some(pb::FollowUp {
                result: pb::FollowUpResult::Lasting.into(),
                note: "Arbeitet weiter, Stunden erhöht".into(),
                ..Default::default()
            }),
            etag: closed_etag,
        })
        .await
        .expect("follow-up")
        .into_inner()
        .case
        .expect("case");
    let follow_up = followed
        .closure
        .and_then(|c| c.follow_up)
        .expect("follow-up");
    assert_eq!(follow_up.result(), pb::FollowUpResult::Lasting);
}
