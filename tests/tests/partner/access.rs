//! Who may call what on partner's two services, and a partner sees only its own referrals.

use fallwerk_platform::auth::Role;
use fallwerk_proto::{partner as pb, types};
use fallwerk_tests::{AgencyClient, PartnerClient, partner_token, token};
use tonic::Code;

use crate::{Cooperation, new_uuid};

#[tokio::test]
async fn another_partner_can_neither_read_nor_act_on_a_referral() {
    let c = Cooperation::open(2).await;
    c.consent(&[types::DataCategory::Identity]).await;
    let referral = c.refer(&[types::DataCategory::Identity]).await;
    let other = partner_token("other-system", new_uuid().parse().expect("uuid"));
    let mut b = c.agency(&other).await;
    let id = || referral.id.clone();
    let codes = [
        b.get_my_referral(pb::GetMyReferralRequest { referral_id: id() })
            .await
            .map(drop),
        b.accept_referral(pb::AcceptReferralRequest {
            referral_id: id(),
            request_id: String::new(),
        })
        .await
        .map(drop),
        b.decline_referral(pb::DeclineReferralRequest {
            referral_id: id(),
            reason: "nein".into(),
            request_id: String::new(),
        })
        .await
        .map(drop),
        b.complete_referral(pb::CompleteReferralRequest {
            referral_id: id(),
            outcome: pb::ReferralOutcome::Completed.into(),
            request_id: String::new(),
        })
        .await
        .map(drop),
        b.update_offer_capacity(pb::UpdateOfferCapacityRequest {
            offer_id: c.offer.id.clone(),
            places: 9,
        })
        .await
        .map(drop),
    ]
    .map(|r| r.err().map(|s| s.code()));
    assert_eq!(codes, [Some(Code::NotFound); 5]);
    // B's change stream carries nothing of A's: its first message is a heartbeat.
    let mut stream = b
        .stream_my_referral_changes(pb::StreamMyReferralChangesRequest::default())
        .await
        .expect("own stream")
        .into_inner();
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("a heartbeat within 10 s")
        .expect("open")
        .expect("message");
    assert!(
        matches!(
            first.item,
            Some(pb::stream_my_referral_changes_response::Item::HeartbeatPosition(_))
        ),
        "{first:?}"
    );
    let listed = b
        .list_my_referrals(pb::ListMyReferralsRequest::default())
        .await
        .expect("own list")
        .into_inner();
    assert!(listed.referrals.is_empty());
}

#[tokio::test]
async fn staff_roles_are_denied_the_partner_api_and_partners_the_staff_api() {
    let c = Cooperation::open(1).await;
    let team = Some(c.world.office.team);
    for role in [
        Role::Advisor,
        Role::TeamLead,
        Role::Admin,
        Role::FrontDesk,
        Role::Service,
    ] {
        let mut agency: AgencyClient = c.agency(&token("someone", &[role], team)).await;
        let denied = agency
            .list_my_referrals(pb::ListMyReferralsRequest::default())
            .await
            .expect_err("not a partner");
        assert_eq!(denied.code(), Code::PermissionDenied, "{role:?}");
        let denied = agency
            .stream_my_referral_changes(pb::StreamMyReferralChangesRequest::default())
            .await
            .expect_err("not a partner");
        assert_eq!(denied.code(), Code::PermissionDenied, "{role:?} streaming");
    }
    let mut as_partner: PartnerClient = c.staff(&c.agency).await;
    let calls = [
        as_partner
            .search_offers(pb::SearchOffersRequest::default())
            .await
            .map(drop),
        as_partner
            .list_consents(pb::ListConsentsRequest {
                case_id: c.case.id.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
        as_partner
            .create_referral(c.referral(&[types::DataCategory::Identity]))
            .await
            .map(drop),
    ]
    .map(|r| r.err().map(|s| s.code()));
    assert_eq!(calls, [Some(Code::PermissionDenied); 3]);
    // Front desk has no business with consents or referrals; admins none with case data.
    for role in [Role::FrontDesk, Role::Admin, Role::Auditor] {
        let mut staff = c.staff(&token("someone", &[role], team)).await;
        let denied = staff
            .list_consents(pb::ListConsentsRequest {
                case_id: c.case.id.clone(),
                ..Default::default()
            })
            .await
            .expect_err("no case content");
        assert_eq!(denied.code(), Code::PermissionDenied, "{role:?}");
    }
    // Another team's advisor finds no such case.
    let mut other = c.staff(&c.world.office.other_advisor).await;
    let status = other
        .list_consents(pb::ListConsentsRequest {
            case_id: c.case.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another team's case");
    assert_eq!(status.code(), Code::NotFound);
}

/// The status code `$rpc` answers `$request` with.
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

/// The roles allowed each RPC of both services (the proto's documentation, as a table).
const ALLOWED: &[(&str, &[Role])] = &[
    ("CreatePartner", &[Role::Admin]),
    (
        "ListPartners",
        &[Role::Admin, Role::Advisor, Role::TeamLead],
    ),
    ("CreateOffer", &[Role::Admin]),
    (
        "SearchOffers",
        &[Role::Admin, Role::Advisor, Role::TeamLead],
    ),
    ("RecordConsent", &[Role::Advisor]),
    ("RevokeConsent", &[Role::Advisor]),
    ("ListConsents", &[Role::Advisor, Role::TeamLead]),
    ("CreateReferral", &[Role::Advisor]),
    ("GetReferral", &[Role::Advisor, Role::TeamLead]),
    ("ListReferrals", &[Role::Advisor, Role::TeamLead]),
    (
        "GetDataSharingRecord",
        &[Role::Advisor, Role::TeamLead, Role::Auditor],
    ),
    ("WithdrawReferral", &[Role::Advisor]),
    ("ListMyReferrals", &[Role::Partner]),
    ("GetMyReferral", &[Role::Partner]),
    ("AcceptReferral", &[Role::Partner]),
    ("DeclineReferral", &[Role::Partner]),
    ("ReportProgress", &[Role::Partner]),
    ("CompleteReferral", &[Role::Partner]),
    ("UpdateOfferCapacity", &[Role::Partner]),
    ("StreamMyReferralChanges", &[Role::Partner]),
];

#[tokio::test]
async fn each_role_may_call_exactly_the_rpcs_of_its_table() {
    let c = Cooperation::open(1).await;
    let id = new_uuid;
    for role in [
        Role::Admin,
        Role::Advisor,
        Role::TeamLead,
        Role::FrontDesk,
        Role::Auditor,
        Role::Service,
        Role::Partner,
    ] {
        let token = if role == Role::Partner {
            partner_token("some-system", c.partner.id.parse().expect("uuid"))
        } else {
            token("someone", &[role], Some(c.world.office.team))
        };
        let mut staff: PartnerClient = c.staff(&token).await;
        let mut agency: AgencyClient = c.agency(&token).await;
        let got = [
            (
                "CreatePartner",
                code!(staff, create_partner, pb::CreatePartnerRequest::default()),
            ),
            (
                "ListPartners",
                code!(staff, list_partners, pb::ListPartnersRequest::default()),
            ),
            (
                "CreateOffer",
                code!(staff, create_offer, pb::CreateOfferRequest::default()),
            ),
            (
                "SearchOffers",
                code!(staff, search_offers, pb::SearchOffersRequest::default()),
            ),
            (
                "RecordConsent",
                code!(staff, record_consent, pb::RecordConsentRequest::default()),
            ),
            (
                "RevokeConsent",
                code!(
                    staff,
                    revoke_consent,
                    pb::RevokeConsentRequest {
                        consent_id: id(),
                        request_id: String::new(),
                    }
                ),
            ),
            (
                "ListConsents",
                code!(
                    staff,
                    list_consents,
                    pb::ListConsentsRequest {
                        case_id: id(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "CreateReferral",
                code!(staff, create_referral, pb::CreateReferralRequest::default()),
            ),
            (
                "GetReferral",
                code!(
                    staff,
                    get_referral,
                    pb::GetReferralRequest { referral_id: id() }
                ),
            ),
            (
                "ListReferrals",
                code!(
                    staff,
                    list_referrals,
                    pb::ListReferralsRequest {
                        case_id: id(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "GetDataSharingRecord",
                code!(
                    staff,
                    get_data_sharing_record,
                    pb::GetDataSharingRecordRequest {
                        case_id: id(),
                        ..Default::default()
                    }
                ),
            ),
            (
                "WithdrawReferral",
                code!(
                    staff,
                    withdraw_referral,
                    pb::WithdrawReferralRequest {
                        referral_id: id(),
                        request_id: String::new(),
                    }
                ),
            ),
            (
                "ListMyReferrals",
                code!(
                    agency,
                    list_my_referrals,
                    pb::ListMyReferralsRequest::default()
                ),
            ),
            (
                "GetMyReferral",
                code!(
                    agency,
                    get_my_referral,
                    pb::GetMyReferralRequest { referral_id: id() }
                ),
            ),
            (
                "AcceptReferral",
                code!(
                    agency,
                    accept_referral,
                    pb::AcceptReferralRequest {
                        referral_id: id(),
                        request_id: String::new(),
                    }
                ),
            ),
            (
                "DeclineReferral",
                code!(
                    agency,
                    decline_referral,
                    pb::DeclineReferralRequest::default()
                ),
            ),
            (
                "ReportProgress",
                code!(
                    agency,
                    report_progress,
                    pb::ReportProgressRequest::default()
                ),
            ),
            (
                "CompleteReferral",
                code!(
                    agency,
                    complete_referral,
                    pb::CompleteReferralRequest::default()
                ),
            ),
            (
                "UpdateOfferCapacity",
                code!(
                    agency,
                    update_offer_capacity,
                    pb::UpdateOfferCapacityRequest::default()
                ),
            ),
            (
                "StreamMyReferralChanges",
                code!(
                    agency,
                    stream_my_referral_changes,
                    pb::StreamMyReferralChangesRequest::default()
                ),
            ),
        ];
        assert_eq!(got.len(), ALLOWED.len(), "every RPC is in the table");
        for ((rpc, code), (table_rpc, roles)) in got.into_iter().zip(ALLOWED) {
            assert_eq!(rpc, *table_rpc);
            assert_eq!(
                code != Code::PermissionDenied,
                roles.contains(&role),
                "{role:?} calling {rpc}: {code:?}"
            );
        }
    }
}

/// One method of every gRPC service fallwerk serves, by service.
const ONE_METHOD_EACH: &[(&str, &str)] = &[
    ("intake", "/fallwerk.intake.v1.IntakeService/ListTeams"),
    (
        "case-plan",
        "/fallwerk.caseplan.v1.CasePlanService/ListCases",
    ),
    (
        "case-plan",
        "/fallwerk.caseplan.v1.CaseSnapshotService/GetCaseSnapshot",
    ),
    (
        "partner",
        "/fallwerk.partner.v1.PartnerService/ListPartners",
    ),
    (
        "partner",
        "/fallwerk.partner.v1.PartnerAgencyService/ListMyReferrals",
    ),
    (
        "partner",
        "/fallwerk.audit.v1.AuditTrailService/VerifyAuditTrail",
    ),
];

#[tokio::test]
async fn every_service_refuses_every_bad_token() {
    use fallwerk_tests::attacks::{bad_tokens, raw_call, valid_token};
    let world = crate::World::open_with_partner().await;
    let app = |service: &str| match service {
        "intake" => &world.office.app,
        "case-plan" => &world.case_plan,
        _ => world.partner.as_ref().expect("partner"),
    };
    let tokens = bad_tokens();
    for (service, path) in ONE_METHOD_EACH {
        for (what, token) in &tokens {
            let status = raw_call(app(service), token, path).await;
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{path} with {what}: {status:?}"
            );
        }
        // The same call with a valid token gets past authentication, so the refusals above
        // are the tokens'.
        let status = raw_call(app(service), &valid_token(), path).await;
        assert_ne!(status.code(), Code::Unauthenticated, "{path}: {status:?}");
    }
}
