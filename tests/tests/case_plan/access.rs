//! Who may call what: every RPC against every role, and another team's case is NOT_FOUND.

use fallwerk_platform::auth::Role;
use fallwerk_proto::caseplan as pb;
use fallwerk_tests::{CasePlanClient, token};
use tonic::Code;

use crate::{World, first_plan};

/// Calls every case-plan RPC about `case_id` and returns each one's status code.
async fn every_rpc(client: &mut CasePlanClient, case_id: &str) -> Vec<(&'static str, Code)> {
    let code = |r: Result<(), tonic::Status>| r.err().map_or(Code::Ok, |s| s.code());
    let id = || case_id.to_owned();
    vec![
        (
            "GetCase",
            code(
                client
                    .get_case(pb::GetCaseRequest { case_id: id() })
                    .await
                    .map(drop),
            ),
        ),
        (
            "ListCases",
            code(
                client
                    .list_cases(pb::ListCasesRequest {
                        scope: pb::CaseScope::Team.into(),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
        ),
        (
            "UpdateCase",
            code(
                client
                    .update_case(pb::UpdateCaseRequest {
                        case: Some(pb::Case {
                            id: id(),
                            legal_basis: fallwerk_proto::types::LegalBasis::SgbIi.into(),
                            etag: "99".into(),
                            ..Default::default()
                        }),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["legal_basis".into()],
                        }),
                    })
                    .await
                    .map(drop),
            ),
        ),
        (
            "GetHelpPlan",
            code(
                client
                    .get_help_plan(pb::GetHelpPlanRequest { case_id: id() })
                    .await
                    .map(drop),
            ),
        ),
        (
            "ReviseHelpPlan",
            code(client.revise_help_plan(first_plan(case_id)).await.map(drop)),
        ),
        (
            "ListPlanRevisions",
            code(
                client
                    .list_plan_revisions(pb::ListPlanRevisionsRequest {
                        case_id: id(),
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            ),
        ),
        (
            "CloseCase",
            code(
                client
                    .close_case(pb::CloseCaseRequest {
                        case_id: id(),
                        closure: Some(pb::Closure {
                            outcome: pb::CaseOutcome::MovedAway.into(),
                            follow_up_date: crate::date(2099, 1, 1),
                            ..Default::default()
                        }),
                        etag: "9".into(),
                        request_id: String::new(),
                    })
                    .await
                    .map(drop),
            ),
        ),
    ]
}

#[tokio::test]
async fn each_role_may_call_exactly_the_rpcs_of_its_table() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let team = Some(office.team);
    use Code::{Aborted as Stale, Ok, PermissionDenied as Denied};
    // Each row: role, then the code of GetCase, ListCases, UpdateCase, GetHelpPlan,
    // ReviseHelpPlan, ListPlanRevisions, CloseCase. Allowed writes with a made-up etag are
    // refused as stale: they got past authorization. The advisor's plan revision is real.
    let table: [(Role, [Code; 7]); 6] = [
        (Role::Advisor, [Ok, Ok, Stale, Ok, Ok, Ok, Stale]),
        (Role::TeamLead, [Ok, Ok, Denied, Ok, Denied, Ok, Denied]),
        (Role::FrontDesk, [Denied; 7]),
        (Role::Admin, [Denied; 7]),
        (Role::Auditor, [Denied; 7]),
        (Role::Service, [Denied; 7]),
    ];
    for (role, expected) in table {
        let mut client = world.plans(&token("someone", &[role], team)).await;
        let got = every_rpc(&mut client, &case.id).await;
        let got: Vec<Code> = got.into_iter().map(|(_, c)| c).collect();
        assert_eq!(got, expected, "{role:?}");
    }
}

#[tokio::test]
async fn every_rpc_with_another_teams_case_answers_not_found() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    for other in [&office.other_advisor, &office.other_lead] {
        let mut client = world.plans(other).await;
        for (rpc, code) in every_rpc(&mut client, &case.id).await {
            match rpc {
                // Lists show the caller's own team: nothing of the other team's.
                "ListCases" => assert_eq!(code, Code::Ok),
                _ => assert!(
                    matches!(code, Code::NotFound | Code::PermissionDenied),
                    "{rpc} with another team's case: {code:?}"
                ),
            }
        }
        let listed = client
            .list_cases(pb::ListCasesRequest {
                scope: pb::CaseScope::Team.into(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert!(listed.cases.is_empty());
    }
    // The advisor of the other team gets NOT_FOUND (not PERMISSION_DENIED) for everything.
    let mut other = world.plans(&office.other_advisor).await;
    let codes: Vec<Code> = every_rpc(&mut other, &case.id)
        .await
        .into_iter()
        .filter(|(rpc, _)| *rpc != "ListCases")
        .map(|(_, c)| c)
        .collect();
    assert_eq!(codes, [Code::NotFound; 6]);
}

#[tokio::test]
async fn an_unauthenticated_call_is_refused() {
    let world = World::open().await;
    let mut anonymous = world.plans("").await;
    let status = anonymous
        .get_case(pb::GetCaseRequest {
            case_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn reads_of_case_content_are_audited() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut lead = world.plans(&office.lead).await;
    lead.get_help_plan(pb::GetHelpPlanRequest {
        case_id: case.id.clone(),
    })
    .await
    .expect("plan");
    let pool = world.case_plan.db.pool().await;
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT subject, action FROM caseplan.audit_log WHERE resource_id = $1 ORDER BY id",
    )
    .bind(&case.id)
    .fetch_all(&pool)
    .await
    .expect("audit log");
    assert!(
        audited.contains(&("lead-1".into(), "GetHelpPlan".into())),
        "{audited:?}"
    );
    assert!(
        audited.contains(&("advisor-1".into(), "GetCase".into())),
        "{audited:?}"
    );
}
