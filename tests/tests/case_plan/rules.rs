//! The case's rules: closed is closed, the first plan comes first, etags guard every change,
//! and lists page.

use fallwerk_proto::{caseplan as pb, types};
use fallwerk_tests::error_reason;
use tonic::Code;

use crate::{World, date, first_plan};

fn closure(outcome: pb::CaseOutcome) -> Option<pb::Closure> {
    Some(pb::Closure {
        outcome: outcome.into(),
        follow_up_date: date(2099, 6, 1),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_closed_case_cannot_be_closed_again_nor_its_plan_or_basis_changed() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let closed = plans
        .close_case(pb::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: closure(pb::CaseOutcome::MovedAway),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed")
        .into_inner()
        .case
        .expect("case");

    let again = plans
        .close_case(pb::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: closure(pb::CaseOutcome::Deceased),
            etag: closed.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect_err("closing twice");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&again).as_deref(), Some("CASE_CLOSED"));

    let revise = plans
        .revise_help_plan(first_plan(&case.id))
        .await
        .expect_err("planning a closed case");
    assert_eq!(error_reason(&revise).as_deref(), Some("CASE_CLOSED"));

    let update = plans
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                legal_basis: types::LegalBasis::SgbIi.into(),
                etag: closed.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["legal_basis".into()],
            }),
        })
        .await
        .expect_err("changing a closed case");
    assert_eq!(error_reason(&update).as_deref(), Some("CASE_CLOSED"));

    let now = world.read_case(&office.advisor, &case.id).await;
    assert_eq!(
        now.closure.map(|c| c.outcome()),
        Some(pb::CaseOutcome::MovedAway)
    );
}

#[tokio::test]
async fn the_first_revision_is_the_first_plan_and_only_it() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;

    let mut review_first = first_plan(&case.id);
    review_first.cause = pb::RevisionCause::Review.into();
    let status = plans
        .revise_help_plan(review_first)
        .await
        .expect_err("a review before any plan");
    assert_eq!(error_reason(&status).as_deref(), Some("FIRST_PLAN_CAUSE"));

    let plan = plans
        .revise_help_plan(first_plan(&case.id))
        .await
        .expect("first plan")
        .into_inner()
        .plan
        .expect("plan");
    let mut second_first = first_plan(&case.id);
    second_first.etag = plan.etag;
    let status = plans
        .revise_help_plan(second_first)
        .await
        .expect_err("a second first plan");
    assert_eq!(error_reason(&status).as_deref(), Some("FIRST_PLAN_CAUSE"));
}

#[tokio::test]
async fn a_stale_etag_is_aborted_and_changes_nothing() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let mut second = world.plans(&office.second_advisor).await;

    // Two advisors read the empty plan; the first revision wins, the second is stale.
    plans
        .revise_help_plan(first_plan(&case.id))
        .await
        .expect("first plan");
    let stale = second
        .revise_help_plan(first_plan(&case.id))
        .await
        .expect_err("revision from a stale plan");
    assert_eq!(stale.code(), Code::Aborted);

    // The case changed with the plan: its old etag is stale too.
    let stale = plans
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                legal_basis: types::LegalBasis::SgbXiiChapter3.into(),
                etag: case.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["legal_basis".into()],
            }),
        })
        .await
        .expect_err("update with the etag from before the plan");
    assert_eq!(stale.code(), Code::Aborted);
    let now = world.read_case(&office.advisor, &case.id).await;
    assert_eq!(now.plan_revision, 1);
    assert_eq!(now.legal_basis(), types::LegalBasis::Unspecified);

    let updated = plans
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                legal_basis: types::LegalBasis::SgbXiiChapter3.into(),
                etag: now.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["legal_basis".into()],
            }),
        })
        .await
        .expect("update with the current etag")
        .into_inner()
        .case
        .expect("case");
    assert_eq!(updated.legal_basis(), types::LegalBasis::SgbXiiChapter3);
    assert_ne!(updated.etag, now.etag);
}

#[tokio::test]
async fn a_retried_revision_with_the_same_request_id_is_made_once() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let mut request = first_plan(&case.id);
    request.request_id = uuid::Uuid::new_v4().to_string();
    let first = plans
        .revise_help_plan(request.clone())
        .await
        .expect("first")
        .into_inner();
    let retry = plans
        .revise_help_plan(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry);
    let history = plans
        .list_plan_revisions(pb::ListPlanRevisionsRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .expect("revisions")
        .into_inner();
    assert_eq!(history.revisions.len(), 1);
}

#[tokio::test]
async fn cases_and_revisions_page_with_tokens_bound_to_their_query() {
    let world = World::open().await;
    let office = &world.office;
    let mut opened = Vec::new();
    for _ in 0..3 {
        opened.push(world.case(&office.desk, &office.advisor).await.id);
    }
    let mut lead = world.plans(&office.lead).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = lead
            .list_cases(pb::ListCasesRequest {
                scope: pb::CaseScope::Team.into(),
                state: pb::CaseState::Open.into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        assert!(page.cases.len() <= 2);
        seen.extend(page.cases.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // The token belongs to this query: with another state filter it is refused.
        let other = lead
            .list_cases(pb::ListCasesRequest {
                scope: pb::CaseScope::Team.into(),
                state: pb::CaseState::Closed.into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect_err("token of another query");
        assert_eq!(fallwerk_tests::bad_fields(&other), ["page_token"]);
    }
    assert_eq!(seen, opened, "every open case once, in opening order");

    // Revisions page newest first, each with the diff against the one before.
    let mut plans = world.plans(&office.advisor).await;
    let case = &opened[0];
    let mut plan = plans
        .revise_help_plan(first_plan(case))
        .await
        .expect("plan")
        .into_inner()
        .plan
        .expect("plan");
    for _ in 0..2 {
        let mut goals = plan.goals.clone();
        goals[1].own_words.push('!');
        plan = plans
            .revise_help_plan(pb::ReviseHelpPlanRequest {
                case_id: case.clone(),
                goals,
                cause: pb::RevisionCause::ClientRequest.into(),
                etag: plan.etag.clone(),
                request_id: String::new(),
            })
            .await
            .expect("revision")
            .into_inner()
            .plan
            .expect("plan");
    }
    let first_page = plans
        .list_plan_revisions(pb::ListPlanRevisionsRequest {
            case_id: case.clone(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(
        first_page
            .revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        [3, 2]
    );
    let last_page = plans
        .list_plan_revisions(pb::ListPlanRevisionsRequest {
            case_id: case.clone(),
            page_size: 2,
            page_token: first_page.next_page_token,
        })
        .await
        .expect("last page")
        .into_inner();
    assert_eq!(
        last_page
            .revisions
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        [1]
    );
    assert!(last_page.next_page_token.is_empty());
    let changed = |r: &pb::HelpPlan| r.diff.clone().expect("diff").goals_changed.len();
    assert_eq!(changed(&first_page.revisions[1]), 1, "revision 2 against 1");
    assert_eq!(
        last_page.revisions[0]
            .diff
            .clone()
            .expect("diff")
            .goals_added
            .len(),
        2
    );
}

#[tokio::test]
async fn cases_are_listed_most_urgent_first_across_pages() {
    let world = World::open().await;
    let office = &world.office;
    let mut plans = world.plans(&office.advisor).await;
    let later = world.case(&office.desk, &office.advisor).await;
    plans
        .revise_help_plan(first_plan(&later.id))
        .await
        .expect("plan due 15 January");
    let nothing_due = world.case(&office.desk, &office.advisor).await;
    let soon = world.case(&office.desk, &office.advisor).await;
    let mut soon_plan = first_plan(&soon.id);
    soon_plan.goals[0].steps[0].due_date = date(2026, 12, 10);
    plans
        .revise_help_plan(soon_plan)
        .await
        .expect("plan due 10 December");

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = plans
            .list_cases(pb::ListCasesRequest {
                scope: pb::CaseScope::Mine.into(),
                page_size: 1,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.cases.into_iter().map(|c| (c.id, c.urgency_date)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        seen,
        [
            (soon.id, date(2026, 12, 10)),
            (later.id, date(2027, 1, 15)),
            (nothing_due.id, None),
        ]
    );
}
