//! Bad input is answered INVALID_ARGUMENT naming every bad field, and writes nothing.

use fallwerk_proto::caseplan as pb;
use fallwerk_tests::bad_fields;
use tonic::Code;

use crate::{World, date, first_plan, goal, step};

async fn written(world: &World) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM caseplan.plan_revisions) + (SELECT count(*) FROM caseplan.agreements)
              + (SELECT count(*) FROM caseplan.reviews) + (SELECT count(*) FROM caseplan.timeline)
              + (SELECT count(*) FROM caseplan.plan_goals) + (SELECT count(*) FROM caseplan.plan_steps)
              + (SELECT count(*) FROM caseplan.cases WHERE state = 'closed' OR legal_basis IS NOT NULL)
              + (SELECT count(*) FROM caseplan.outbox) + (SELECT count(*) FROM caseplan.idempotency)",
    )
    .fetch_one(&world.case_plan.db.pool().await)
    .await
    .expect("count")
}

/// Runs `call` and asserts it is refused INVALID_ARGUMENT naming exactly `fields`, and that
/// nothing was written.
async fn assert_refused<T: std::fmt::Debug>(
    world: &World,
    call: impl Future<Output = Result<T, tonic::Status>>,
    fields: &[&str],
) {
    let before = written(world).await;
    let status = call.await.expect_err("bad input must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), fields, "{status:?}");
    assert_eq!(
        written(world).await,
        before,
        "a refused request wrote nothing"
    );
}

#[tokio::test]
async fn a_plan_revision_names_every_bad_goal_and_step_field() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let mut twice = step("zweimal", pb::StepOwner::Client, None);
    twice.id = uuid::Uuid::now_v7().to_string();
    let request = pb::ReviseHelpPlanRequest {
        case_id: case.id.clone(),
        goals: vec![
            pb::Goal {
                category: 0,
                own_words: " ".into(),
                target_date: date(2027, 2, 30),
                status: 42,
                steps: vec![
                    pb::Step {
                        action: "x".repeat(501),
                        owner: 0,
                        due_date: date(2027, 13, 1),
                        ..Default::default()
                    },
                    twice.clone(),
                    twice,
                ],
                ..Default::default()
            },
            pb::Goal {
                id: "not-a-uuid".into(),
                ..goal(pb::GoalCategory::Work, "Arbeit", vec![])
            },
        ],
        cause: 0,
        etag: String::new(),
        request_id: "again".into(),
    };
    assert_refused(
        &world,
        plans.revise_help_plan(request),
        &[
            "cause",
            "etag",
            "goals[0].category",
            "goals[0].own_words",
            "goals[0].status",
            "goals[0].steps[0].action",
            "goals[0].steps[0].due_date",
            "goals[0].steps[0].owner",
            "goals[0].steps[2].id",
            "goals[0].target_date",
            "goals[1].id",
            "request_id",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_plan_needs_goals() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let mut request = first_plan(&case.id);
    request.goals.clear();
    assert_refused(&world, plans.revise_help_plan(request), &["goals"]).await;
}

#[tokio::test]
async fn kept_ids_must_be_goals_and_steps_of_the_current_plan() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let plan = plans
        .revise_help_plan(first_plan(&case.id))
        .await
        .expect("first plan")
        .into_inner()
        .plan
        .expect("plan");
    let mut goals = plan.goals.clone();
    goals[0].id = uuid::Uuid::now_v7().to_string();
    goals[1].steps[1].id = uuid::Uuid::now_v7().to_string();
    let request = pb::ReviseHelpPlanRequest {
        case_id: case.id.clone(),
        goals,
        cause: pb::RevisionCause::Review.into(),
        etag: plan.etag,
        request_id: String::new(),
    };
    assert_refused(
        &world,
        plans.revise_help_plan(request),
        &["goals[0].id", "goals[1].steps[1].id"],
    )
    .await;
}

#[tokio::test]
async fn a_closure_names_its_bad_fields() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let request = pb::CloseCaseRequest {
        case_id: case.id.clone(),
        closure: Some(pb::Closure {
            outcome: pb::CaseOutcome::Other.into(),
            note: String::new(),
            follow_up_date: date(2020, 1, 1),
            ..Default::default()
        }),
        etag: "x".into(),
        request_id: String::new(),
    };
    assert_refused(
        &world,
        plans.close_case(request),
        &["closure.follow_up_date", "closure.note", "etag"],
    )
    .await;
    let request = pb::CloseCaseRequest {
        case_id: "nope".into(),
        ..Default::default()
    };
    assert_refused(
        &world,
        plans.close_case(request),
        &["case_id", "closure", "etag"],
    )
    .await;
}

#[tokio::test]
async fn an_update_names_its_bad_fields() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let request = pb::UpdateCaseRequest {
        case: Some(pb::Case {
            id: case.id.clone(),
            legal_basis: 0,
            etag: String::new(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["state".into()],
        }),
    };
    assert_refused(
        &world,
        plans.update_case(request),
        &["case.etag", "case.legal_basis", "update_mask.paths"],
    )
    .await;
}

#[tokio::test]
async fn an_agreement_draft_names_its_bad_fields() {
    let world = World::open().await;
    let (case, _) = world
        .planned_case(fallwerk_proto::types::LegalBasis::SgbIi)
        .await;
    let mut plans = world.plans(&world.office.advisor).await;
    let request = pb::CreateAgreementRequest {
        case_id: case.id.clone(),
        agreement: Some(pb::Agreement {
            text: " ".into(),
            review_date: date(2026, 11, 30),
            start_date: date(2027, 2, 1),
            end_date: date(2027, 1, 1),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_refused(
        &world,
        plans.create_agreement(request),
        &[
            "agreement.end_date",
            "agreement.review_date",
            "agreement.text",
        ],
    )
    .await;
}

#[tokio::test]
async fn an_acceptance_names_its_bad_fields() {
    let world = World::open().await;
    let (_, agreement) = world.case_with_agreement().await;
    let mut plans = world.plans(&world.office.advisor).await;
    let request = pb::AcceptAgreementRequest {
        request_id: String::new(),
        agreement_id: agreement.id.clone(),
        acknowledgement: Some(pb::Acknowledgement::default()),
        etag: String::new(),
    };
    assert_refused(
        &world,
        plans.accept_agreement(request),
        &["acknowledgement.channel", "etag"],
    )
    .await;
}

#[tokio::test]
async fn a_review_names_its_bad_fields() {
    let world = World::open().await;
    let (case, plan) = world
        .planned_case(fallwerk_proto::types::LegalBasis::SgbIi)
        .await;
    let mut plans = world.plans(&world.office.advisor).await;
    let goal = plan.goals[0].id.clone();
    let request = pb::RecordReviewRequest {
        case_id: case.id.clone(),
        review: Some(pb::Review {
            goals: vec![
                pb::GoalReview {
                    goal_id: goal.clone(),
                    progress: 0,
                    note: String::new(),
                },
                pb::GoalReview {
                    goal_id: goal,
                    progress: pb::GoalProgress::Some.into(),
                    note: "n".repeat(2001),
                },
            ],
            next_review_date: date(2026, 12, 1),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_refused(
        &world,
        plans.record_review(request),
        &[
            "review.goals[0].progress",
            "review.goals[1].goal_id",
            "review.goals[1].note",
            "review.next_review_date",
        ],
    )
    .await;
}
