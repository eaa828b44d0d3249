//! A case's life after the plan: reviews within the form's limit, reassignment, closure,
//! follow-up and reopening (intake's caseload follows each), what is due, the timeline and
//! the team's figures.

use chrono::Duration;
use fallwerk_proto::{caseplan as pb, types};
use fallwerk_tests::{bad_fields, error_metadata, error_reason};
use tonic::Code;

use crate::{World, date, text_form, today};

fn review(
    case_id: &str,
    next: Option<fallwerk_proto::google::r#type::Date>,
) -> pb::RecordReviewRequest {
    pb::RecordReviewRequest {
        case_id: case_id.into(),
        review: Some(pb::Review {
            notes: "Kita-Platz ab Januar zugesagt".into(),
            next_review_date: next,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_review_records_progress_and_keeps_within_the_cooperation_plans_six_months() {
    let world = World::open().await;
    let (case, agreement) = world.case_with_agreement().await;
    let plan = world
        .plans(&world.office.advisor)
        .await
        .get_help_plan(pb::GetHelpPlanRequest {
            case_id: case.id.clone(),
        })
        .await
        .expect("plan")
        .into_inner()
        .plan
        .expect("plan");
    world.agree(agreement, text_form()).await.expect("agreed");
    let mut plans = world.plans(&world.office.advisor).await;

    let too_late = plans
        .record_review(review(&case.id, date(2027, 6, 2)))
        .await
        .expect_err("beyond six months");
    assert_eq!(bad_fields(&too_late), ["review.next_review_date"]);

    let mut request = review(&case.id, date(2027, 3, 1));
    request.review.as_mut().expect("review").goals = vec![
        pb::GoalReview {
            goal_id: plan.goals[0].id.clone(),
            progress: pb::GoalProgress::Reached.into(),
            note: "Gutschein liegt vor".into(),
        },
        pb::GoalReview {
            goal_id: uuid::Uuid::now_v7().to_string(),
            progress: pb::GoalProgress::Some.into(),
            note: String::new(),
        },
    ];
    let unknown = plans
        .record_review(request.clone())
        .await
        .expect_err("unknown goal");
    assert_eq!(bad_fields(&unknown), ["review.goals[1].goal_id"]);

    request.review.as_mut().expect("review").goals.pop();
    let recorded = plans
        .record_review(request)
        .await
        .expect("review")
        .into_inner()
        .review
        .expect("review");
    assert_eq!(recorded.plan_revision, 1);
    assert_eq!(
        recorded.due_date,
        date(2027, 3, 1),
        "the agreement's review date was due"
    );
    assert_eq!(recorded.goals.len(), 1);
    let case = world.read_case(&world.office.advisor, &case.id).await;
    assert_eq!(case.next_review_date, date(2027, 3, 1));
    let listed = plans
        .list_reviews(pb::ListReviewsRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .expect("reviews")
        .into_inner();
    assert_eq!(listed.reviews, [recorded]);
}

#[tokio::test]
async fn a_reassigned_case_moves_to_the_new_advisors_caseload_at_intake_too() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let advisors = office.advisors().await;
    let second = advisors
        .iter()
        .find(|a| a.subject == "advisor-2")
        .expect("advisor-2");
    let reassign = |etag: &str, advisor: &str| pb::ReassignCaseRequest {
        request_id: String::new(),
        case_id: case.id.clone(),
        advisor_id: advisor.into(),
        reason: "Schwerpunkt Arbeitsvermittlung".into(),
        etag: etag.into(),
    };

    // advisor-2 cannot take advisor-1's case; nobody can hand it outside the team.
    let status = world
        .plans(&office.second_advisor)
        .await
        .reassign_case(reassign(&case.etag, &second.id))
        .await
        .expect_err("not theirs to hand over");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = world
        .plans(&office.lead)
        .await
        .reassign_case(reassign(&case.etag, &uuid::Uuid::now_v7().to_string()))
        .await
        .expect_err("unknown advisor");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("ADVISOR_NOT_AVAILABLE")
    );

    let moved = world
        .plans(&office.advisor)
        .await
        .reassign_case(reassign(&case.etag, &second.id))
        .await
        .expect("handed over")
        .into_inner()
        .case
        .expect("case");
    assert_eq!(moved.responsible_advisor_id, second.id);
    office.eventually_open_cases_of("advisor-2", 1).await;
    assert_eq!(office.open_cases_of("advisor-1").await, 0);
}

#[tokio::test]
async fn a_closed_case_is_followed_up_once_and_reopened_only_when_closed() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let follow_up = |etag: &str| pb::RecordFollowUpRequest {
        request_id: String::new(),
        case_id: case.id.clone(),
        follow_up: Some(pb::FollowUp {
            result: pb::FollowUpResult::Lasting.into(),
            note: "Arbeitet weiter im Seniorenheim".into(),
            ..Default::default()
        }),
        etag: etag.into(),
    };
    let reopen = |etag: &str| pb::ReopenCaseRequest {
        request_id: String::new(),
        case_id: case.id.clone(),
        reason: "Arbeitsplatz verloren".into(),
        etag: etag.into(),
    };
    let status = plans
        .record_follow_up(follow_up(&case.etag))
        .await
        .expect_err("open case");
    assert_eq!(error_reason(&status).as_deref(), Some("CASE_OPEN"));
    let status = plans
        .reopen_case(reopen(&case.etag))
        .await
        .expect_err("open case");
    assert_eq!(error_reason(&status).as_deref(), Some("CASE_OPEN"));

    let closed = plans
        .close_case(pb::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::WorkTakenUp.into(),
                follow_up_date: date(2027, 6, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed")
        .into_inner()
        .case
        .expect("case");
    office.eventually_open_cases_of("advisor-1", 0).await;
    let followed = plans
        .record_follow_up(follow_up(&closed.etag))
        .await
        .expect("followed up")
        .into_inner()
        .case
        .expect("case");
    let result = followed.closure.as_ref().and_then(|c| c.follow_up.clone());
    assert_eq!(
        result.map(|f| f.result()),
        Some(pb::FollowUpResult::Lasting)
    );
    let status = plans
        .record_follow_up(follow_up(&followed.etag))
        .await
        .expect_err("twice");
    assert_eq!(error_reason(&status).as_deref(), Some("FOLLOW_UP_RECORDED"));

    let reopened = plans
        .reopen_case(reopen(&followed.etag))
        .await
        .expect("reopened")
        .into_inner()
        .case
        .expect("case");
    assert_eq!(reopened.state(), pb::CaseState::Open);
    assert!(reopened.closure.is_none());
    office.eventually_open_cases_of("advisor-1", 1).await;
}

#[tokio::test]
async fn a_closed_case_is_not_reopened_while_the_client_has_another_open_case() {
    let world = World::open().await;
    let office = &world.office;
    let first = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let closed = plans
        .close_case(pb::CloseCaseRequest {
            case_id: first.id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::MovedAway.into(),
                follow_up_date: date(2027, 6, 1),
                ..Default::default()
            }),
            etag: first.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed")
        .into_inner()
        .case
        .expect("case");
    office.eventually_open_cases_of("advisor-1", 0).await;
    // The client is back and gets a new case at intake.
    let second = world.returning_case(&first.applicant_id).await;
    let status = plans
        .reopen_case(pb::ReopenCaseRequest {
            request_id: String::new(),
            case_id: closed.id.clone(),
            reason: "zurück".into(),
            etag: closed.etag.clone(),
        })
        .await
        .expect_err("another open case");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("CLIENT_HAS_OPEN_CASE")
    );
    assert_eq!(error_metadata(&status, "case_id"), Some(second.id));
}

#[tokio::test]
async fn what_needs_me_today_lists_reviews_overdue_steps_expiring_agreements_and_follow_ups() {
    let world = World::open().await;
    let office = &world.office;
    // Case A: an agreed cooperation plan ending in ten days, its plan with steps due 15 Jan.
    let (a, _) = world.planned_case(types::LegalBasis::SgbIi).await;
    let mut draft = world.draft(&a.id, date(2027, 1, 20)).await;
    let mut plans = world.plans(&office.advisor).await;
    draft = plans
        .update_agreement(pb::UpdateAgreementRequest {
            agreement: Some(pb::Agreement {
                id: draft.id.clone(),
                end_date: date(2026, 12, 11),
                etag: draft.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["end_date".into()],
            }),
        })
        .await
        .expect("end date")
        .into_inner()
        .agreement
        .expect("agreement");
    let agreement = world.agree(draft, text_form()).await.expect("agreed");
    // Case B: closed with its follow-up due on 1 February.
    let b = world.case(&office.desk, &office.advisor).await;
    plans
        .close_case(pb::CloseCaseRequest {
            case_id: b.id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::TrainingStarted.into(),
                follow_up_date: date(2027, 2, 1),
                ..Default::default()
            }),
            etag: b.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed");

    let due = |within_days| pb::ListDueItemsRequest {
        scope: pb::CaseScope::Mine.into(),
        within_days,
        ..Default::default()
    };
    // Today (1 Dec): only the agreement ending on 11 Dec, within the 14 days looked ahead.
    let items = plans
        .list_due_items(due(0))
        .await
        .expect("due")
        .into_inner()
        .items;
    assert_eq!(
        items
            .iter()
            .map(|i| (i.kind(), i.subject_id.as_str()))
            .collect::<Vec<_>>(),
        [(pb::DueKind::AgreementExpiring, agreement.id.as_str())]
    );
    let items = plans
        .list_due_items(due(5))
        .await
        .expect("due")
        .into_inner()
        .items;
    assert!(items.is_empty(), "not within five days: {items:?}");

    // 1 February 2027: the review (20 Jan) and the steps (15 and 31 Jan) are overdue, the
    // follow-up is due; the agreement has expired and is no longer "expiring".
    let later = today() + Duration::days(62);
    world.case_plan.clock.set(later);
    let items = plans
        .list_due_items(due(0))
        .await
        .expect("due")
        .into_inner()
        .items;
    let got: Vec<(
        pb::DueKind,
        Option<fallwerk_proto::google::r#type::Date>,
        &str,
    )> = items
        .iter()
        .map(|i| (i.kind(), i.due_date, i.case_id.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (pb::DueKind::StepOverdue, date(2027, 1, 15), a.id.as_str()),
            (pb::DueKind::Review, date(2027, 1, 20), a.id.as_str()),
            (pb::DueKind::StepOverdue, date(2027, 1, 31), a.id.as_str()),
            (pb::DueKind::FollowUp, date(2027, 2, 1), b.id.as_str()),
        ]
    );
    assert_eq!(items[0].client_display_name, "Anna Weber");
    assert_eq!(items[0].summary, "Kita-Gutschein beim Jugendamt beantragen");
    // Three at a time: the same four items, in the same order, over two pages.
    let first = plans
        .list_due_items(pb::ListDueItemsRequest {
            page_size: 3,
            ..due(0)
        })
        .await
        .expect("first page")
        .into_inner();
    let second = plans
        .list_due_items(pb::ListDueItemsRequest {
            page_size: 3,
            page_token: first.next_page_token.clone(),
            ..due(0)
        })
        .await
        .expect("second page")
        .into_inner();
    assert!(second.next_page_token.is_empty(), "four items, two pages");
    assert_eq!([first.items, second.items].concat(), items);
    // The other advisor of the team has nothing; the team lead sees the team's.
    let theirs = world
        .plans(&office.second_advisor)
        .await
        .list_due_items(due(0))
        .await
        .expect("due")
        .into_inner()
        .items;
    assert!(theirs.is_empty());
    let team = world
        .plans(&office.lead)
        .await
        .list_due_items(due(0))
        .await
        .expect("due")
        .into_inner()
        .items;
    assert_eq!(team.len(), 4);
}

#[tokio::test]
async fn the_timeline_shows_every_event_in_order() {
    let world = World::open().await;
    let (case, agreement) = world.case_with_agreement().await;
    world.agree(agreement, text_form()).await.expect("agreed");
    let mut plans = world.plans(&world.office.advisor).await;
    plans
        .record_review(review(&case.id, date(2027, 3, 1)))
        .await
        .expect("review");
    let case = world.read_case(&world.office.advisor, &case.id).await;
    plans
        .close_case(pb::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::WorkTakenUp.into(),
                follow_up_date: date(2027, 6, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed");
    let mut kinds = Vec::new();
    let mut token = String::new();
    loop {
        let page = plans
            .list_timeline_entries(pb::ListTimelineEntriesRequest {
                case_id: case.id.clone(),
                page_size: 3,
                page_token: token,
            })
            .await
            .expect("timeline")
            .into_inner();
        kinds.extend(page.entries.iter().map(|e| e.kind()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    use pb::TimelineKind::*;
    assert_eq!(
        kinds,
        [
            Opened,
            LegalBasisSet,
            PlanRevised,
            AgreementDrafted,
            AgreementProposed,
            AgreementAgreed,
            Reviewed,
            Closed
        ]
    );
}

#[tokio::test]
async fn the_team_figures_count_openings_closures_early_agreements_reviews_and_lasting_effects() {
    let world = World::open().await;
    let office = &world.office;
    let (case, agreement) = world.case_with_agreement().await;
    world.agree(agreement, text_form()).await.expect("agreed");
    world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    plans
        .record_review(review(&case.id, date(2027, 3, 1)))
        .await
        .expect("review");
    let case = world.read_case(&office.advisor, &case.id).await;
    let closed = plans
        .close_case(pb::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::WorkTakenUp.into(),
                follow_up_date: date(2027, 6, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed")
        .into_inner()
        .case
        .expect("case");
    plans
        .record_follow_up(pb::RecordFollowUpRequest {
            request_id: String::new(),
            case_id: case.id.clone(),
            follow_up: Some(pb::FollowUp {
                result: pb::FollowUpResult::Lasting.into(),
                ..Default::default()
            }),
            etag: closed.etag,
        })
        .await
        .expect("follow-up");

    let figures = world
        .plans(&office.lead)
        .await
        .get_case_figures(pb::GetCaseFiguresRequest {
            start_date: date(2026, 12, 1),
            end_date: date(2026, 12, 31),
            agreement_within_days: 0,
        })
        .await
        .expect("figures")
        .into_inner();
    assert_eq!(figures.cases_opened, 2);
    assert_eq!(figures.cases_closed, 1);
    assert_eq!(
        figures.closed_by_outcome,
        [pb::OutcomeCount {
            outcome: pb::CaseOutcome::WorkTakenUp.into(),
            cases: 1
        }]
    );
    assert_eq!(figures.agreement_early_rate, 0.5);
    assert_eq!((figures.reviews, figures.reviews_on_time), (1, 1));
    assert_eq!((figures.follow_ups, figures.follow_ups_lasting), (1, 1));
    assert_eq!(
        figures.median_case_days, 0.0,
        "opened and closed the same instant"
    );
}
