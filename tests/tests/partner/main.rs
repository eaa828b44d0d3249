//! partner through real gRPC against a real PostgreSQL, wired to intake and case-plan by their
//! feeds and calling case-plan for each referral's data: every case here was opened at intake
//! and planned in case-plan.

mod access;
mod examples;
mod load;
mod matrix;
mod mtls;
mod protection;
mod referrals;
mod retention;
mod stream;

use std::time::Duration;

use fallwerk_platform::auth::Role;
use fallwerk_proto::{caseplan, partner as pb, types};
use fallwerk_tests::{AgencyClient, PartnerClient, partner_token, token, world::World};
use uuid::Uuid;

pub(crate) use fallwerk_tests::world::date;

/// The three services, a partner with one offer of `places`, and an SGB II case of advisor-1
/// with its first plan that partner knows of.
pub(crate) struct Cooperation {
    pub(crate) world: World,
    pub(crate) admin: String,
    pub(crate) partner: pb::Partner,
    pub(crate) offer: pb::Offer,
    /// The partner system's token.
    pub(crate) agency: String,
    pub(crate) case: caseplan::Case,
    pub(crate) plan: caseplan::HelpPlan,
}

impl Cooperation {
    pub(crate) async fn open(places: i32) -> Cooperation {
        let world = World::open_with_partner().await;
        let admin = token("admin-1", &[Role::Admin], None);
        let mut as_admin: PartnerClient = world.partner().client(&admin).await;
        let partner = create_partner(
            &mut as_admin,
            pb::PartnerKind::WelfareAssociation,
            "Kita-Lotsen der Diakonie",
            "kita@diakonie.example",
        )
        .await;
        let offer = create_offer(&mut as_admin, &partner.id, places).await;
        let agency = partner_token("kita-system", partner.id.parse().expect("uuid"));
        let (case, plan) = world.planned_case(types::LegalBasis::SgbIi).await;
        let cooperation = Cooperation {
            world,
            admin,
            partner,
            offer,
            agency,
            case,
            plan,
        };
        cooperation.known_to_partner(&cooperation.case.id).await;
        cooperation
    }

    pub(crate) async fn staff(&self, token: &str) -> PartnerClient {
        self.world.partner().client(token).await
    }

    pub(crate) async fn agency(&self, token: &str) -> AgencyClient {
        self.world.partner().client(token).await
    }

    /// Waits (at most 30 s) until partner has the case from case-plan's feed.
    pub(crate) async fn known_to_partner(&self, case_id: &str) {
        let mut staff = self.staff(&self.world.office.advisor).await;
        for _ in 0..300 {
            match staff
                .list_consents(pb::ListConsentsRequest {
                    case_id: case_id.into(),
                    ..Default::default()
                })
                .await
            {
                Ok(_) => return,
                Err(status) if status.code() == tonic::Code::NotFound => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(status) => panic!("ListConsents: {status:?}"),
            }
        }
        panic!("case {case_id} did not reach partner within 30 s");
    }

    /// Records the client's consent for the partner to receive `categories`.
    pub(crate) async fn consent(&self, categories: &[types::DataCategory]) -> pb::Consent {
        self.staff(&self.world.office.advisor)
            .await
            .record_consent(pb::RecordConsentRequest {
                consent: Some(consent(&self.case.id, &self.partner.id, categories)),
                request_id: String::new(),
            })
            .await
            .expect("consent recorded")
            .into_inner()
            .consent
            .expect("consent")
    }

    /// A referral by the case's advisor carrying `categories` (consented before).
    pub(crate) async fn refer(&self, categories: &[types::DataCategory]) -> pb::Referral {
        self.staff(&self.world.office.advisor)
            .await
            .create_referral(self.referral(categories))
            .await
            .expect("referral")
            .into_inner()
            .referral
            .expect("referral")
    }

    /// A referral request of the case's first step to the offer, carrying `categories`.
    pub(crate) fn referral(&self, categories: &[types::DataCategory]) -> pb::CreateReferralRequest {
        pb::CreateReferralRequest {
            case_id: self.case.id.clone(),
            offer_id: self.offer.id.clone(),
            step_id: self.plan.goals[0].steps[0].id.clone(),
            reason: "Kita-Platz für die Tochter, damit sie arbeiten kann".into(),
            categories: categories.iter().map(|c| (*c).into()).collect(),
            notes: String::new(),
            when_full: pb::WhenFull::Refuse.into(),
            request_id: String::new(),
        }
    }
}

impl WorldExt for World {
    fn partner(&self) -> &fallwerk_tests::ServiceApp {
        self.partner.as_ref().expect("opened with partner")
    }
}

/// The partner service of a world opened with it.
pub(crate) trait WorldExt {
    fn partner(&self) -> &fallwerk_tests::ServiceApp;
}

pub(crate) async fn create_partner(
    client: &mut PartnerClient,
    kind: pb::PartnerKind,
    name: &str,
    contact: &str,
) -> pb::Partner {
    client
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                kind: kind.into(),
                display_name: name.into(),
                contact: contact.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("partner")
        .into_inner()
        .partner
        .expect("partner")
}

pub(crate) async fn create_offer(
    client: &mut PartnerClient,
    partner: &str,
    places: i32,
) -> pb::Offer {
    client
        .create_offer(pb::CreateOfferRequest {
            offer: Some(pb::Offer {
                partner_id: partner.into(),
                category: pb::OfferCategory::Childcare.into(),
                title: "Kita-Lotsen: Platzsuche".into(),
                places,
                eligibility: "Eltern mit Kindern unter 6".into(),
                location: "Nordstadt".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("offer")
        .into_inner()
        .offer
        .expect("offer")
}

pub(crate) fn consent(
    case: &str,
    partner: &str,
    categories: &[types::DataCategory],
) -> pb::Consent {
    pb::Consent {
        case_id: case.into(),
        partner_id: partner.into(),
        purpose: "Vermittlung eines Kita-Platzes".into(),
        categories: categories.iter().map(|c| (*c).into()).collect(),
        form: pb::ConsentForm::Written.into(),
        evidence: "Akte 4711, Blatt 12".into(),
        given_date: date(2026, 11, 30),
        valid_until: date(2027, 11, 30),
        ..Default::default()
    }
}

pub(crate) fn new_uuid() -> String {
    Uuid::now_v7().to_string()
}
