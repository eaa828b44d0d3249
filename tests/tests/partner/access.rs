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
    let referral = c
        .staff(&c.world.office.advisor)
        .await
        .create_referral(c.referral(&[types::DataCategory::Identity]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
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
        })
        .await
        .expect_err("another team's case");
    assert_eq!(status.code(), Code::NotFound);
}
