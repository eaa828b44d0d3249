//! Who may call what: every RPC against every role, and another team's case is NOT_FOUND.

use fallwerk_platform::auth::Role;
use fallwerk_proto::{caseplan as pb, types};
use fallwerk_tests::{CasePlanClient, token};
use tonic::Code;

use crate::{World, agreement_draft, date, first_plan, text_form};

/// Calls `$rpc` with `$request` and gives the status code it answered.
macro_rules! code {
    ($client:expr, $rpc:ident, $request:expr) => {
        $client
            .$rpc($request)
            .await
            .map(drop)
            .err()
            .map_or(Code::Ok, |status| status.code())
    };
}

/// Calls every case-plan RPC about `case_id` and its agreement `agreement_id` with well-formed
/// requests (made-up etags) and returns each one's status code, in the order of the service.
async fn every_rpc(
    client: &mut CasePlanClient,
    case_id: &str,
    agreement_id: &str,
) -> Vec<(&'static str, Code)> {
    let case = || case_id.to_owned();
    let agreement = || agreement_id.to_owned();
    let etag = || "99".to_owned();
    let mask = |path: &str| {
        Some(prost_types::FieldMask {
            paths: vec![path.into()],
        })
    };
    vec![
        (
            "GetCase",
            code!(
                client,
                get_case,
                pb::GetCaseRequest {
                    case_id: case(),
                    ..Default::default()
                }
            ),
        ),
        (
            "ListCases",
            code!(
                client,
                list_cases,
                pb::ListCasesRequest {
                    scope: pb::CaseScope::Team.into(),
                    ..Default::default()
                }
            ),
        ),
        (
            "UpdateCase",
            code!(
                client,
                update_case,
                pb::UpdateCaseRequest {
                    case: Some(pb::Case {
                        id: case(),
                        legal_basis: types::LegalBasis::SgbIi.into(),
                        etag: etag(),
                        ..Default::default()
                    }),
                    update_mask: mask("legal_basis"),
                }
            ),
        ),
        (
            "GetHelpPlan",
            code!(
                client,
                get_help_plan,
                pb::GetHelpPlanRequest { case_id: case() }
            ),
        ),
        ("ReviseHelpPlan", {
            let mut request = first_plan(case_id);
            request.etag = etag();
            code!(client, revise_help_plan, request)
        }),
        (
            "ListPlanRevisions",
            code!(
                client,
                list_plan_revisions,
                pb::ListPlanRevisionsRequest {
                    case_id: case(),
                    ..Default::default()
                }
            ),
        ),
        (
            "CloseCase",
            code!(
                client,
                close_case,
                pb::CloseCaseRequest {
                    case_id: case(),
                    closure: Some(pb::Closure {
                        outcome: pb::CaseOutcome::MovedAway.into(),
                        follow_up_date: date(2099, 1, 1),
                        ..Default::default()
                    }),
                    etag: etag(),
                    request_id: String::new(),
                }
            ),
        ),
        (
            "RecordFollowUp",
            code!(
                client,
                record_follow_up,
                pb::RecordFollowUpRequest {
                    request_id: String::new(),
                    case_id: case(),
                    follow_up: Some(pb::FollowUp {
                        result: pb::FollowUpResult::Lasting.into(),
                        ..Default::default()
                    }),
                    etag: etag(),
                }
            ),
        ),
        (
            "ReopenCase",
            code!(
                client,
                reopen_case,
                pb::ReopenCaseRequest {
                    request_id: String::new(),
                    case_id: case(),
                    reason: "Neuer Antrag".into(),
                    etag: etag(),
                }
            ),
        ),
        (
            "ReassignCase",
            code!(
                client,
                reassign_case,
                pb::ReassignCaseRequest {
                    request_id: String::new(),
                    case_id: case(),
                    advisor_id: uuid::Uuid::now_v7().to_string(),
                    reason: "Urlaub".into(),
                    etag: etag(),
                }
            ),
        ),
        (
            "SetLegalHold",
            code!(
                client,
                set_legal_hold,
                pb::SetLegalHoldRequest {
                    case_id: case(),
                    hold: true,
                    reason: "Klage vor dem Sozialgericht".into(),
                    etag: etag(),
                }
            ),
        ),
        (
            "ListTimelineEntries",
            code!(
                client,
                list_timeline_entries,
                pb::ListTimelineEntriesRequest {
                    case_id: case(),
                    ..Default::default()
                }
            ),
        ),
        (
            "ListDueItems",
            code!(client, list_due_items, pb::ListDueItemsRequest::default()),
        ),
        (
            "GetCaseFigures",
            code!(
                client,
                get_case_figures,
                pb::GetCaseFiguresRequest {
                    start_date: date(2026, 1, 1),
                    end_date: date(2026, 12, 31),
                    agreement_within_days: 0,
                }
            ),
        ),
        (
            "CreateAgreement",
            code!(
                client,
                create_agreement,
                pb::CreateAgreementRequest {
                    case_id: case(),
                    agreement: Some(agreement_draft(date(2099, 1, 1))),
                    request_id: String::new(),
                }
            ),
        ),
        (
            "GetAgreement",
            code!(
                client,
                get_agreement,
                pb::GetAgreementRequest {
                    agreement_id: agreement()
                }
            ),
        ),
        (
            "ListAgreements",
            code!(
                client,
                list_agreements,
                pb::ListAgreementsRequest {
                    case_id: case(),
                    ..Default::default()
                }
            ),
        ),
        (
            "UpdateAgreement",
            code!(
                client,
                update_agreement,
                pb::UpdateAgreementRequest {
                    agreement: Some(pb::Agreement {
                        id: agreement(),
                        text: "Neu".into(),
                        etag: etag(),
                        ..Default::default()
                    }),
                    update_mask: mask("text"),
                }
            ),
        ),
        (
            "ProposeAgreement",
            code!(
                client,
                propose_agreement,
                pb::ProposeAgreementRequest {
                    request_id: String::new(),
                    agreement_id: agreement(),
                    etag: etag(),
                }
            ),
        ),
        (
            "CommentOnAgreement",
            code!(
                client,
                comment_on_agreement,
                pb::CommentOnAgreementRequest {
                    request_id: String::new(),
                    agreement_id: agreement(),
                    comment: Some(pb::AgreementComment {
                        author: pb::CommentAuthor::Client.into(),
                        text: "Zu viele Termine".into(),
                        ..Default::default()
                    }),
                    etag: etag(),
                }
            ),
        ),
        (
            "AcceptAgreement",
            code!(
                client,
                accept_agreement,
                pb::AcceptAgreementRequest {
                    request_id: String::new(),
                    agreement_id: agreement(),
                    acknowledgement: Some(text_form()),
                    etag: etag(),
                }
            ),
        ),
        (
            "DeclineAgreement",
            code!(
                client,
                decline_agreement,
                pb::DeclineAgreementRequest {
                    request_id: String::new(),
                    agreement_id: agreement(),
                    reason: "Nein".into(),
                    etag: etag(),
                }
            ),
        ),
        (
            "DisputeAgreement",
            code!(
                client,
                dispute_agreement,
                pb::DisputeAgreementRequest {
                    request_id: String::new(),
                    agreement_id: agreement(),
                    objection: "Widerspruch".into(),
                    etag: etag(),
                }
            ),
        ),
        (
            "ResolveDispute",
            code!(
                client,
                resolve_dispute,
                pb::ResolveDisputeRequest {
                    request_id: String::new(),
                    agreement_id: agreement(),
                    resolution: "Bleibt".into(),
                    outcome: pb::DisputeOutcome::Keep.into(),
                    etag: etag(),
                }
            ),
        ),
        (
            "ApprovePlanRevision",
            code!(
                client,
                approve_plan_revision,
                pb::ApprovePlanRevisionRequest {
                    request_id: String::new(),
                    case_id: case(),
                    revision: 1,
                }
            ),
        ),
        (
            "RecordReview",
            code!(
                client,
                record_review,
                pb::RecordReviewRequest {
                    case_id: case(),
                    review: Some(pb::Review {
                        next_review_date: date(2099, 1, 1),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                }
            ),
        ),
        (
            "ListReviews",
            code!(
                client,
                list_reviews,
                pb::ListReviewsRequest {
                    case_id: case(),
                    ..Default::default()
                }
            ),
        ),
        (
            "GetTeamSettings",
            code!(client, get_team_settings, pb::GetTeamSettingsRequest {}),
        ),
        (
            "UpdateTeamSettings",
            code!(
                client,
                update_team_settings,
                pb::UpdateTeamSettingsRequest {
                    settings: Some(pb::TeamSettings {
                        etag: etag(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["plan_approval_required".into()],
                    }),
                }
            ),
        ),
    ]
}

/// The roles allowed to call each RPC (the proto's documentation, as a table).
const ALLOWED: &[(&str, &[Role])] = &[
    ("GetCase", &[Role::Advisor, Role::TeamLead]),
    ("ListCases", &[Role::Advisor, Role::TeamLead]),
    ("UpdateCase", &[Role::Advisor]),
    ("GetHelpPlan", &[Role::Advisor, Role::TeamLead]),
    ("ReviseHelpPlan", &[Role::Advisor]),
    ("ListPlanRevisions", &[Role::Advisor, Role::TeamLead]),
    ("CloseCase", &[Role::Advisor]),
    ("RecordFollowUp", &[Role::Advisor]),
    ("ReopenCase", &[Role::Advisor]),
    ("ReassignCase", &[Role::Advisor, Role::TeamLead]),
    ("SetLegalHold", &[Role::TeamLead]),
    ("ListTimelineEntries", &[Role::Advisor, Role::TeamLead]),
    ("ListDueItems", &[Role::Advisor, Role::TeamLead]),
    ("GetCaseFigures", &[Role::TeamLead]),
    ("CreateAgreement", &[Role::Advisor]),
    ("GetAgreement", &[Role::Advisor, Role::TeamLead]),
    ("ListAgreements", &[Role::Advisor, Role::TeamLead]),
    ("UpdateAgreement", &[Role::Advisor]),
    ("ProposeAgreement", &[Role::Advisor]),
    ("CommentOnAgreement", &[Role::Advisor]),
    ("AcceptAgreement", &[Role::Advisor]),
    ("DeclineAgreement", &[Role::Advisor]),
    ("DisputeAgreement", &[Role::Advisor]),
    ("ResolveDispute", &[Role::Advisor, Role::TeamLead]),
    ("ApprovePlanRevision", &[Role::TeamLead]),
    ("RecordReview", &[Role::Advisor]),
    ("ListReviews", &[Role::Advisor, Role::TeamLead]),
    ("GetTeamSettings", &[Role::Advisor, Role::TeamLead]),
    ("UpdateTeamSettings", &[Role::TeamLead]),
];

#[tokio::test]
async fn each_role_may_call_exactly_the_rpcs_of_its_table() {
    let world = World::open().await;
    let office = &world.office;
    let (case, agreement) = world.case_with_agreement().await;
    let team = Some(office.team);
    for role in [
        Role::Advisor,
        Role::TeamLead,
        Role::FrontDesk,
        Role::Admin,
        Role::Auditor,
        Role::Service,
        Role::Partner,
    ] {
        // The advisor row is the case's responsible advisor (handing over is theirs).
        let subject = if role == Role::Advisor {
            "advisor-1"
        } else {
            "someone"
        };
        let mut client = world.plans(&token(subject, &[role], team)).await;
        let got = every_rpc(&mut client, &case.id, &agreement.id).await;
        assert_eq!(got.len(), ALLOWED.len(), "every RPC is in the table");
        for ((rpc, code), (table_rpc, roles)) in got.into_iter().zip(ALLOWED) {
            assert_eq!(rpc, *table_rpc);
            let allowed = roles.contains(&role);
            assert_eq!(
                code != Code::PermissionDenied,
                allowed,
                "{role:?} calling {rpc}: {code:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_rpc_with_another_teams_case_answers_not_found() {
    let world = World::open().await;
    let office = &world.office;
    let (case, agreement) = world.case_with_agreement().await;
    let mut other = world.plans(&office.other_advisor).await;
    for (rpc, code) in every_rpc(&mut other, &case.id, &agreement.id).await {
        let allowed = ALLOWED
            .iter()
            .any(|(name, roles)| *name == rpc && roles.contains(&Role::Advisor));
        match rpc {
            // Not about one case: the caller's own team's, which holds nothing of the other.
            "ListCases" | "ListDueItems" | "GetTeamSettings" => assert_eq!(code, Code::Ok, "{rpc}"),
            _ if allowed => assert_eq!(code, Code::NotFound, "{rpc} with another team's case"),
            _ => assert_eq!(code, Code::PermissionDenied, "{rpc}"),
        }
    }
    let listed = other
        .list_cases(pb::ListCasesRequest {
            scope: pb::CaseScope::Team.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(listed.cases.is_empty());
    let due = other
        .list_due_items(pb::ListDueItemsRequest {
            scope: pb::CaseScope::Team.into(),
            within_days: 90,
            ..Default::default()
        })
        .await
        .expect("due")
        .into_inner();
    assert!(due.items.is_empty());
    // The other team's lead sees none of it either.
    let mut other_lead = world.plans(&office.other_lead).await;
    let status = other_lead
        .get_agreement(pb::GetAgreementRequest {
            agreement_id: agreement.id.clone(),
        })
        .await
        .expect_err("another team's agreement");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn an_unauthenticated_call_is_refused() {
    let world = World::open().await;
    let mut anonymous = world.plans("").await;
    let status = anonymous
        .get_case(pb::GetCaseRequest {
            case_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
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

#[tokio::test]
async fn only_services_take_a_case_snapshot_and_get_only_the_categories_asked_for() {
    let world = World::open().await;
    let (case, plan) = world.planned_case(types::LegalBasis::SgbIi).await;
    let step = plan.goals[0].steps[0].id.clone();
    let request = |categories: Vec<types::DataCategory>| pb::GetCaseSnapshotRequest {
        case_id: case.id.clone(),
        categories: categories.into_iter().map(Into::into).collect(),
        step_id: step.clone(),
    };
    for role in [
        Role::Advisor,
        Role::TeamLead,
        Role::Admin,
        Role::Partner,
        Role::Auditor,
    ] {
        let mut staff: fallwerk_tests::CaseSnapshotClient = world
            .case_plan
            .client(&token("someone", &[role], Some(world.office.team)))
            .await;
        let denied = staff
            .get_case_snapshot(request(vec![types::DataCategory::Identity]))
            .await
            .expect_err("not a service");
        assert_eq!(denied.code(), Code::PermissionDenied, "{role:?}");
    }
    let mut service: fallwerk_tests::CaseSnapshotClient = world
        .case_plan
        .client(&token("partner", &[Role::Service], None))
        .await;
    let identity = service
        .get_case_snapshot(request(vec![types::DataCategory::Identity]))
        .await
        .expect("snapshot")
        .into_inner();
    assert_eq!(identity.display_name, "Anna Weber");
    assert!(
        !identity.single_parent && identity.step_action.is_empty(),
        "only identity"
    );
    let steps = service
        .get_case_snapshot(request(vec![
            types::DataCategory::PlanSteps,
            types::DataCategory::Household,
        ]))
        .await
        .expect("snapshot")
        .into_inner();
    assert!(steps.display_name.is_empty(), "no identity asked for");
    assert_eq!(
        steps.step_action,
        "Kita-Gutschein beim Jugendamt beantragen"
    );
    assert_eq!(steps.goal, "Einen Kita-Platz für meine Tochter finden");
    assert!(steps.single_parent);
}
