//! Who may call what, across all three services: every RPC of every fallwerk service in the
//! contract, called with every role, against the table below, the specification a reviewer
//! reads. The table must name exactly the contract's RPCs and each service's policy must say
//! what it says: a new RPC without an entry fails here. Objects of another team or partner are
//! each service's own tests (`access.rs` of each suite), since they need real objects.

use std::{collections::BTreeMap, str::FromStr};

use fallwerk_platform::auth::{AccessPolicy, Role};
use fallwerk_tests::{ServiceApp, partner_token, token};
use prost::Message;
use tonic::Code;

use crate::{World, WorldExt};

const INTAKE: &str = "fallwerk.intake.v1.IntakeService";
const CASE_PLAN: &str = "fallwerk.caseplan.v1.CasePlanService";
const SNAPSHOT: &str = "fallwerk.caseplan.v1.CaseSnapshotService";
const PARTNER: &str = "fallwerk.partner.v1.PartnerService";
const AGENCY: &str = "fallwerk.partner.v1.PartnerAgencyService";
const FEED: &str = "fallwerk.feed.v1.EventFeedService";
const AUDIT: &str = "fallwerk.audit.v1.AuditTrailService";

/// The roles each RPC admits.
const EXPECTED: &[(&str, &str, &[Role])] = {
    use Role::*;
    &[
        (INTAKE, "CreateApplicant", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "GetApplicant", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "SearchApplicants", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "UpdateApplicant", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "GetApplicantContact", &[Service]),
        (INTAKE, "RegisterVisit", &[FrontDesk, Advisor]),
        (INTAKE, "EndVisit", &[FrontDesk, Advisor]),
        (INTAKE, "GetVisit", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "ListWaitingQueue", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "ListVisits", &[FrontDesk, Advisor, TeamLead]),
        (INTAKE, "RecordAccessCheck", &[FrontDesk, Advisor]),
        (INTAKE, "StartConsultation", &[Advisor]),
        (INTAKE, "CompleteConsultation", &[Advisor]),
        (INTAKE, "GetConsultation", &[Advisor, TeamLead]),
        (INTAKE, "CreateTeam", &[Admin]),
        (INTAKE, "UpdateTeam", &[Admin]),
        (INTAKE, "GetTeam", &[FrontDesk, Advisor, TeamLead, Admin]),
        (INTAKE, "ListTeams", &[FrontDesk, Advisor, TeamLead, Admin]),
        (INTAKE, "CreateAdvisor", &[Admin, TeamLead]),
        (INTAKE, "UpdateAdvisor", &[Admin, TeamLead]),
        (INTAKE, "GetAdvisor", &[Admin, TeamLead, Advisor]),
        (INTAKE, "ListAdvisors", &[Admin, TeamLead, Advisor]),
        (INTAKE, "OpenCase", &[Advisor, TeamLead]),
        (INTAKE, "GetTeamFigures", &[TeamLead]),
        (CASE_PLAN, "GetCase", &[Advisor, TeamLead]),
        (CASE_PLAN, "ListCases", &[Advisor, TeamLead]),
        (CASE_PLAN, "UpdateCase", &[Advisor]),
        (CASE_PLAN, "GetHelpPlan", &[Advisor, TeamLead]),
        (CASE_PLAN, "ReviseHelpPlan", &[Advisor]),
        (CASE_PLAN, "ListPlanRevisions", &[Advisor, TeamLead]),
        (CASE_PLAN, "CloseCase", &[Advisor]),
        (CASE_PLAN, "RecordFollowUp", &[Advisor]),
        (CASE_PLAN, "ReopenCase", &[Advisor]),
        (CASE_PLAN, "ReassignCase", &[Advisor, TeamLead]),
        (CASE_PLAN, "SetLegalHold", &[TeamLead]),
        (CASE_PLAN, "ListTimelineEntries", &[Advisor, TeamLead]),
        (CASE_PLAN, "ListDueItems", &[Advisor, TeamLead]),
        (CASE_PLAN, "GetCaseFigures", &[TeamLead]),
        (CASE_PLAN, "CreateAgreement", &[Advisor]),
        (CASE_PLAN, "GetAgreement", &[Advisor, TeamLead]),
        (CASE_PLAN, "ListAgreements", &[Advisor, TeamLead]),
        (CASE_PLAN, "UpdateAgreement", &[Advisor]),
        (CASE_PLAN, "ProposeAgreement", &[Advisor]),
        (CASE_PLAN, "CommentOnAgreement", &[Advisor]),
        (CASE_PLAN, "AcceptAgreement", &[Advisor]),
        (CASE_PLAN, "DeclineAgreement", &[Advisor]),
        (CASE_PLAN, "DisputeAgreement", &[Advisor]),
        (CASE_PLAN, "ResolveDispute", &[Advisor, TeamLead]),
        (CASE_PLAN, "ApprovePlanRevision", &[TeamLead]),
        (CASE_PLAN, "RecordReview", &[Advisor]),
        (CASE_PLAN, "ListReviews", &[Advisor, TeamLead]),
        (CASE_PLAN, "GetTeamSettings", &[Advisor, TeamLead]),
        (CASE_PLAN, "UpdateTeamSettings", &[TeamLead]),
        (SNAPSHOT, "GetCaseSnapshot", &[Service]),
        (PARTNER, "CreatePartner", &[Admin]),
        (PARTNER, "UpdatePartner", &[Admin]),
        (PARTNER, "ListPartners", &[Admin, Advisor, TeamLead]),
        (PARTNER, "CreateOffer", &[Admin]),
        (PARTNER, "SearchOffers", &[Admin, Advisor, TeamLead]),
        (PARTNER, "RecordConsent", &[Advisor]),
        (PARTNER, "RevokeConsent", &[Advisor]),
        (PARTNER, "ListConsents", &[Advisor, TeamLead]),
        (PARTNER, "CreateReferral", &[Advisor]),
        (PARTNER, "GetReferral", &[Advisor, TeamLead]),
        (PARTNER, "ListReferrals", &[Advisor, TeamLead]),
        (PARTNER, "WithdrawReferral", &[Advisor]),
        (
            PARTNER,
            "GetDataSharingRecord",
            &[Advisor, TeamLead, Auditor],
        ),
        (AGENCY, "ListMyReferrals", &[Partner]),
        (AGENCY, "GetMyReferral", &[Partner]),
        (AGENCY, "AcceptReferral", &[Partner]),
        (AGENCY, "DeclineReferral", &[Partner]),
        (AGENCY, "ReportProgress", &[Partner]),
        (AGENCY, "CompleteReferral", &[Partner]),
        (AGENCY, "UpdateOfferCapacity", &[Partner]),
        (AGENCY, "StreamMyReferralChanges", &[Partner]),
        (FEED, "Subscribe", &[Service, Auditor]),
        (FEED, "Acknowledge", &[Service]),
        (AUDIT, "VerifyAuditTrail", &[Auditor]),
        (AUDIT, "ListAuditRecords", &[Auditor]),
    ]
};

/// The policies each service's server enforces, by service name.
fn served_policies() -> [(&'static str, Vec<AccessPolicy>); 3] {
    let shared = [
        fallwerk_platform::feed::POLICY,
        fallwerk_platform::audit::service::POLICY,
    ];
    let with_shared = |own: &[AccessPolicy]| [own, &shared].concat();
    [
        ("intake", with_shared(&[fallwerk_intake::authz::POLICY])),
        (
            "case-plan",
            with_shared(&[
                fallwerk_case_plan::authz::POLICY,
                fallwerk_case_plan::authz::SNAPSHOT_POLICY,
            ]),
        ),
        (
            "partner",
            with_shared(&[
                fallwerk_partner::authz::POLICY,
                fallwerk_partner::authz::AGENCY_POLICY,
            ]),
        ),
    ]
}

/// Every fallwerk RPC in the contract, and whether it streams its answer.
fn contract() -> BTreeMap<(String, String), bool> {
    let descriptor = prost_types::FileDescriptorSet::decode(fallwerk_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut rpcs = BTreeMap::new();
    for file in descriptor
        .file
        .iter()
        .filter(|f| f.package().starts_with("fallwerk."))
    {
        for service in &file.service {
            for method in &service.method {
                let service = format!("{}.{}", file.package(), service.name());
                rpcs.insert(
                    (service, method.name().to_owned()),
                    method.server_streaming(),
                );
            }
        }
    }
    rpcs
}

fn sorted(roles: &[Role]) -> Vec<Role> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles
}

#[test]
fn the_table_names_every_rpc_of_the_contract_and_every_policy_says_what_it_says() {
    let table: BTreeMap<(String, String), Vec<Role>> = EXPECTED
        .iter()
        .map(|(service, method, roles)| {
            (((*service).to_owned(), (*method).to_owned()), sorted(roles))
        })
        .collect();
    assert_eq!(table.len(), EXPECTED.len(), "an RPC is in the table twice");
    assert_eq!(
        table.keys().collect::<Vec<_>>(),
        contract().keys().collect::<Vec<_>>(),
        "the table and the contract name different RPCs"
    );
    for (server, policies) in served_policies() {
        for policy in policies {
            let in_table: Vec<_> = table
                .keys()
                .filter(|(service, _)| service == policy.service)
                .map(|(_, method)| method.as_str())
                .collect();
            let mut ruled: Vec<_> = policy.rules.iter().map(|r| r.method).collect();
            ruled.sort_unstable();
            assert_eq!(ruled, in_table, "{server}'s rules of {}", policy.service);
            for rule in policy.rules {
                let key = (policy.service.to_owned(), rule.method.to_owned());
                assert_eq!(sorted(rule.roles), table[&key], "{server}: {key:?}");
            }
        }
    }
}

/// Calls `service`/`method` on `app` with an empty request (valid protobuf for every message)
/// as `role`; the status it answered.
async fn call(
    app: &ServiceApp,
    service: &str,
    method: &str,
    streams: bool,
    role: Role,
    team: uuid::Uuid,
) -> Code {
    let bearer = if role == Role::Partner {
        partner_token("partner-system", uuid::Uuid::now_v7())
    } else {
        token(&format!("{role:?}"), &[role], Some(team))
    };
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {bearer}").parse().expect("ascii"),
    );
    let path = http::uri::PathAndQuery::from_str(&format!("/{service}/{method}")).expect("path");
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let answered = if streams {
        grpc.server_streaming(request, path, codec).await.map(drop)
    } else {
        grpc.unary(request, path, codec).await.map(drop)
    };
    answered.err().map_or(Code::Ok, |status| status.code())
}

#[tokio::test]
async fn every_rpc_of_every_service_admits_exactly_the_roles_of_the_table() {
    let world = World::open_with_partner().await;
    let apps = [&world.office.app, &world.case_plan, world.partner()];
    let contract = contract();
    let mut cases = 0;
    for ((server, policies), app) in served_policies().into_iter().zip(apps) {
        assert_eq!(app.service.name, server);
        for policy in policies {
            for (service, method, allowed) in EXPECTED.iter().filter(|e| e.0 == policy.service) {
                let streams = contract[&((*service).to_owned(), (*method).to_owned())];
                for role in Role::ALL {
                    let code = call(app, service, method, streams, role, world.office.team).await;
                    if allowed.contains(&role) {
                        assert!(
                            !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                            "{server} {service}/{method} must admit {role:?}: {code:?}"
                        );
                    } else {
                        assert_eq!(
                            code,
                            Code::PermissionDenied,
                            "{server} {service}/{method} must deny {role:?}"
                        );
                    }
                    cases += 1;
                }
            }
        }
    }
    // 7 roles × (every RPC, the feed's and the trail's once per service).
    assert_eq!(cases, Role::ALL.len() * (EXPECTED.len() + 2 * 4));
}
