//! Referrals: only with a covering consent, carrying exactly the consented data taken from
//! case-plan; the lifecycle with capacity and waiting list; revocation and case closure.

use fallwerk_proto::{caseplan, partner as pb, types};
use fallwerk_tests::{bad_fields, error_domain, error_metadata, error_reason};
use tonic::Code;
use types::DataCategory::{Health, Household, Identity, PlanSteps};

use crate::{Cooperation, WorldExt, consent, create_offer, date, new_uuid};

#[tokio::test]
async fn a_referral_carries_exactly_the_consented_data_from_case_plan() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity, PlanSteps]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let referral = staff
        .create_referral(c.referral(&[Identity, PlanSteps]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(referral.state(), pb::ReferralState::Sent);
    let data = referral.data.clone().expect("data");
    assert_eq!(data.display_name, "Anna Weber");
    assert_eq!(data.step_action, "Kita-Gutschein beim Jugendamt beantragen");
    assert!(!data.single_parent, "household was not consented");
    assert!(data.health_barriers.is_empty());

    // The partner system sees it, with the same data and nothing more.
    let mut agency = c.agency(&c.agency).await;
    let mine = agency
        .list_my_referrals(pb::ListMyReferralsRequest::default())
        .await
        .expect("my referrals")
        .into_inner()
        .referrals;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].data, Some(data));
}

#[tokio::test]
async fn a_referral_without_a_covering_consent_in_force_is_refused_naming_what_is_missing() {
    let c = Cooperation::open(2).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let status = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect_err("no consent");
    assert_eq!(error_reason(&status).as_deref(), Some("CONSENT_MISSING"));
    assert_eq!(
        error_domain(&status).as_deref(),
        Some("fallwerk.partner.v1")
    );
    assert_eq!(
        error_metadata(&status, "category_1").as_deref(),
        Some("DATA_CATEGORY_IDENTITY")
    );
    assert_eq!(
        error_metadata(&status, "category_count").as_deref(),
        Some("1")
    );

    c.consent(&[Identity, PlanSteps]).await;
    let status = staff
        .create_referral(c.referral(&[Identity, Health]))
        .await
        .expect_err("health not consented");
    assert_eq!(
        error_metadata(&status, "category_1").as_deref(),
        Some("DATA_CATEGORY_HEALTH")
    );

    // An expired consent covers nothing.
    let mut expired = consent(&c.case.id, &c.partner.id, &[Identity, Health]);
    expired.given_date = date(2026, 1, 1);
    expired.valid_until = date(2026, 6, 30);
    staff
        .record_consent(pb::RecordConsentRequest {
            consent: Some(expired),
            request_id: String::new(),
        })
        .await
        .expect("expired consent recorded");
    let status = staff
        .create_referral(c.referral(&[Identity, Health]))
        .await
        .expect_err("expired");
    assert_eq!(
        error_metadata(&status, "category_1").as_deref(),
        Some("DATA_CATEGORY_HEALTH")
    );

    // A revoked consent covers nothing either.
    let consent = c.consent(&[Identity, Health, Household]).await;
    staff
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: consent.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("revoked");
    let status = staff
        .create_referral(c.referral(&[Household]))
        .await
        .expect_err("revoked");
    assert_eq!(error_reason(&status).as_deref(), Some("CONSENT_MISSING"));
    let written = staff
        .list_referrals(pb::ListReferralsRequest {
            case_id: c.case.id.clone(),
            ..Default::default()
        })
        .await
        .expect("referrals")
        .into_inner()
        .referrals;
    assert!(written.is_empty(), "nothing was referred");
}

#[tokio::test]
async fn places_are_taken_on_acceptance_and_the_waiting_list_moves_up_when_one_frees() {
    let c = Cooperation::open(1).await;
    c.consent(&[Identity, PlanSteps]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let mut agency = c.agency(&c.agency).await;
    let first = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect("first")
        .into_inner()
        .referral
        .expect("referral");
    let accepted = agency
        .accept_referral(pb::AcceptReferralRequest {
            referral_id: first.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("accepted")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(accepted.state(), pb::ReferralState::Accepted);

    // The last place is taken: refused, or queued when asked.
    let full = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect_err("full");
    assert_eq!(full.code(), Code::ResourceExhausted);
    assert_eq!(error_reason(&full).as_deref(), Some("OFFER_FULL"));
    let mut wait = c.referral(&[Identity]);
    wait.when_full = pb::WhenFull::Wait.into();
    let waiting = staff
        .create_referral(wait)
        .await
        .expect("queued")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(waiting.state(), pb::ReferralState::Waiting);

    // The first completes: its place frees, the waiting one is sent.
    let completed = agency
        .complete_referral(pb::CompleteReferralRequest {
            referral_id: first.id.clone(),
            outcome: pb::ReferralOutcome::Completed.into(),
            request_id: String::new(),
        })
        .await
        .expect("completed")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(completed.state(), pb::ReferralState::Completed);
    let moved = agency
        .get_my_referral(pb::GetMyReferralRequest {
            referral_id: waiting.id.clone(),
        })
        .await
        .expect("moved up")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(moved.state(), pb::ReferralState::Sent);
    agency
        .accept_referral(pb::AcceptReferralRequest {
            referral_id: waiting.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("the freed place");
}

#[tokio::test]
async fn a_revoked_consent_redacts_what_the_partner_reads() {
    let c = Cooperation::open(2).await;
    let consent = c.consent(&[Identity, PlanSteps]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let referral = staff
        .create_referral(c.referral(&[Identity, PlanSteps]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    staff
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: consent.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("revoked");
    let read = c
        .agency(&c.agency)
        .await
        .get_my_referral(pb::GetMyReferralRequest {
            referral_id: referral.id.clone(),
        })
        .await
        .expect("still listed")
        .into_inner()
        .referral
        .expect("referral");
    let data = read.data.expect("data");
    assert!(data.redact_time.is_some());
    assert!(data.display_name.is_empty() && data.step_action.is_empty());
    let again = staff
        .revoke_consent(pb::RevokeConsentRequest {
            consent_id: consent.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect_err("twice");
    assert_eq!(error_reason(&again).as_deref(), Some("CONSENT_REVOKED"));
}

#[tokio::test]
async fn closing_the_case_in_case_plan_closes_its_open_referrals() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let referral = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    let case = c.world.read_case(&c.world.office.advisor, &c.case.id).await;
    c.world
        .plans(&c.world.office.advisor)
        .await
        .close_case(caseplan::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: Some(caseplan::Closure {
                outcome: caseplan::CaseOutcome::MovedAway.into(),
                follow_up_date: date(2027, 6, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed");
    let mut agency = c.agency(&c.agency).await;
    let mut state = pb::ReferralState::Sent;
    for _ in 0..300 {
        state = agency
            .get_my_referral(pb::GetMyReferralRequest {
                referral_id: referral.id.clone(),
            })
            .await
            .expect("referral")
            .into_inner()
            .referral
            .expect("referral")
            .state();
        if state == pb::ReferralState::Closed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(state, pb::ReferralState::Closed);
    // The partner system's stream told it.
    let mut stream = agency
        .stream_my_referral_changes(pb::StreamMyReferralChangesRequest::default())
        .await
        .expect("stream")
        .into_inner();
    let mut states = Vec::new();
    while states.len() < 2 {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("in time")
            .expect("open")
            .expect("message");
        if let Some(pb::stream_my_referral_changes_response::Item::Change(change)) = message.item {
            states.push(change.state());
        }
    }
    assert_eq!(states, [pb::ReferralState::Sent, pb::ReferralState::Closed]);
    // And no new referral for the closed case.
    let status = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect_err("closed case");
    assert_eq!(error_reason(&status).as_deref(), Some("CASE_CLOSED"));
}

#[tokio::test]
async fn with_case_plan_down_a_referral_is_unavailable_and_a_retry_after_makes_exactly_one() {
    let mut c = Cooperation::open(2).await;
    c.consent(&[Identity]).await;
    let mut request = c.referral(&[Identity]);
    request.request_id = new_uuid();
    c.world.case_plan.pause().await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let status = staff
        .create_referral(request.clone())
        .await
        .expect_err("case-plan is down");
    assert_eq!(status.code(), Code::Unavailable);
    c.world.case_plan.resume().await;
    let first = staff
        .create_referral(request.clone())
        .await
        .expect("after case-plan is back")
        .into_inner();
    let retry = staff
        .create_referral(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry);
    let written = staff
        .list_referrals(pb::ListReferralsRequest {
            case_id: c.case.id.clone(),
            ..Default::default()
        })
        .await
        .expect("referrals")
        .into_inner()
        .referrals;
    assert_eq!(written.len(), 1);
}

#[tokio::test]
async fn offers_are_found_by_category_with_free_places_first() {
    let c = Cooperation::open(0).await;
    let mut admin = c.staff(&c.admin).await;
    let roomy = create_offer(&mut admin, &c.partner.id, 5).await;
    let found = c
        .staff(&c.world.office.advisor)
        .await
        .search_offers(pb::SearchOffersRequest {
            category: pb::OfferCategory::Childcare.into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("search")
        .into_inner();
    assert_eq!(
        found.offers[0].id, roomy.id,
        "the offer with free places first"
    );
    assert!(!found.next_page_token.is_empty());
}

#[tokio::test]
async fn bad_input_names_every_field_and_writes_nothing() {
    let c = Cooperation::open(1).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let status = staff
        .create_referral(pb::CreateReferralRequest {
            case_id: "x".into(),
            offer_id: String::new(),
            step_id: "y".into(),
            reason: " ".into(),
            categories: vec![
                types::DataCategory::Identity.into(),
                types::DataCategory::Identity.into(),
                99,
            ],
            notes: String::new(),
            when_full: 7,
            request_id: "z".into(),
        })
        .await
        .expect_err("bad input");
    assert_eq!(
        bad_fields(&status),
        [
            "case_id",
            "categories[1]",
            "categories[2]",
            "offer_id",
            "reason",
            "request_id",
            "step_id",
            "when_full"
        ]
    );
    let mut bad = consent(&c.case.id, &c.partner.id, &[]);
    bad.given_date = date(2027, 1, 1);
    bad.form = 0;
    let status = staff
        .record_consent(pb::RecordConsentRequest {
            consent: Some(bad),
            request_id: String::new(),
        })
        .await
        .expect_err("bad consent");
    assert_eq!(
        bad_fields(&status),
        ["consent.categories", "consent.form", "consent.given_date"]
    );
    let status = c
        .staff(&c.admin)
        .await
        .create_offer(pb::CreateOfferRequest {
            offer: Some(pb::Offer {
                places: -1,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("bad offer");
    assert_eq!(
        bad_fields(&status),
        [
            "offer.category",
            "offer.partner_id",
            "offer.places",
            "offer.title"
        ]
    );
    let listed = staff
        .list_consents(pb::ListConsentsRequest {
            case_id: c.case.id.clone(),
            ..Default::default()
        })
        .await
        .expect("consents")
        .into_inner();
    assert!(listed.consents.is_empty());
}

#[tokio::test]
async fn case_plan_follows_the_referral_on_its_plan_step_and_timeline() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let referral = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    let mut agency = c.agency(&c.agency).await;
    agency
        .accept_referral(pb::AcceptReferralRequest {
            referral_id: referral.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("accepted");
    agency
        .complete_referral(pb::CompleteReferralRequest {
            referral_id: referral.id.clone(),
            outcome: pb::ReferralOutcome::Completed.into(),
            request_id: String::new(),
        })
        .await
        .expect("completed");

    let mut plans = c.world.plans(&c.world.office.advisor).await;
    let mut summaries = Vec::new();
    for _ in 0..300 {
        summaries = plans
            .list_timeline_entries(caseplan::ListTimelineEntriesRequest {
                case_id: c.case.id.clone(),
                ..Default::default()
            })
            .await
            .expect("timeline")
            .into_inner()
            .entries
            .into_iter()
            .filter(|e| e.kind() == caseplan::TimelineKind::ReferralChanged)
            .map(|e| (e.subject_id, e.summary))
            .collect();
        if summaries.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let id = referral.id.clone();
    assert_eq!(
        summaries,
        [
            (id.clone(), "Zuweisung an den Partner gesendet".to_owned()),
            (id.clone(), "Zuweisung vom Partner angenommen".to_owned()),
            (
                id.clone(),
                "Maßnahme abgeschlossen (Rückmeldung: abgeschlossen)".to_owned()
            ),
        ]
    );
    let plan = plans
        .get_help_plan(caseplan::GetHelpPlanRequest {
            case_id: c.case.id.clone(),
        })
        .await
        .expect("plan")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(
        plan.goals[0].steps[0].referral_id, id,
        "the step links to its referral"
    );
}

#[tokio::test]
async fn the_data_sharing_record_shows_what_was_shared_with_whom_and_every_partner_read() {
    let c = Cooperation::open(2).await;
    let consent = c.consent(&[Identity, PlanSteps]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let referral = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    c.agency(&c.agency)
        .await
        .get_my_referral(pb::GetMyReferralRequest {
            referral_id: referral.id.clone(),
        })
        .await
        .expect("the partner reads it");
    let request = || pb::GetDataSharingRecordRequest {
        case_id: c.case.id.clone(),
        ..Default::default()
    };
    let auditor =
        fallwerk_tests::token("auditor-1", &[fallwerk_platform::auth::Role::Auditor], None);
    for token in [&c.world.office.advisor, &c.world.office.lead, &auditor] {
        let record = c
            .staff(token)
            .await
            .get_data_sharing_record(request())
            .await
            .expect("record")
            .into_inner();
        assert_eq!(record.shared.len(), 1);
        let shared = &record.shared[0];
        assert_eq!(
            (
                shared.referral_id.as_str(),
                shared.partner_id.as_str(),
                shared.consent_id.as_str()
            ),
            (
                referral.id.as_str(),
                c.partner.id.as_str(),
                consent.id.as_str()
            )
        );
        assert_eq!(shared.categories, [i32::from(Identity)]);
        assert_eq!(shared.shared_by, "advisor-1");
        let reads: Vec<(&str, &str, &str)> = record
            .partner_reads
            .iter()
            .map(|r| {
                (
                    r.referral_id.as_str(),
                    r.subject.as_str(),
                    r.method.as_str(),
                )
            })
            .collect();
        assert_eq!(
            reads,
            [(referral.id.as_str(), "kita-system", "GetMyReferral")]
        );
    }
    let other = c
        .staff(&c.world.office.other_advisor)
        .await
        .get_data_sharing_record(request())
        .await
        .expect_err("another team's case");
    assert_eq!(other.code(), Code::NotFound);
    let partner = c
        .staff(&c.agency)
        .await
        .get_data_sharing_record(request())
        .await
        .expect_err("not for partners");
    assert_eq!(partner.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_partner_reports_progress_and_writes_a_note_only_where_notes_are_consented() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity, types::DataCategory::Notes]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let mut agency = c.agency(&c.agency).await;
    let refer = |categories: &[types::DataCategory]| c.referral(categories);
    let without_notes = staff
        .create_referral(refer(&[Identity]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    let with_notes = staff
        .create_referral(refer(&[Identity, types::DataCategory::Notes]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    let report = |id: &str, note: &str| pb::ReportProgressRequest {
        referral_id: id.into(),
        progress: pb::Progress::Started.into(),
        next_contact: date(2026, 12, 15),
        note: note.into(),
        request_id: String::new(),
    };
    let early = agency
        .report_progress(report(&with_notes.id, ""))
        .await
        .expect_err("not accepted yet");
    assert_eq!(
        error_reason(&early).as_deref(),
        Some("REFERRAL_NOT_ACCEPTED")
    );
    for id in [&without_notes.id, &with_notes.id] {
        agency
            .accept_referral(pb::AcceptReferralRequest {
                referral_id: id.clone(),
                request_id: String::new(),
            })
            .await
            .expect("accepted");
    }
    let refused = agency
        .report_progress(report(
            &without_notes.id,
            "Kommt regelmäßig, wirkt motiviert",
        ))
        .await
        .expect_err("no consent to notes");
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("NOTE_NOT_CONSENTED")
    );
    let started = agency
        .report_progress(report(&with_notes.id, "Kommt regelmäßig, wirkt motiviert"))
        .await
        .expect("reported")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(started.state(), pb::ReferralState::InProgress);
    let read = staff
        .get_referral(pb::GetReferralRequest {
            referral_id: with_notes.id.clone(),
        })
        .await
        .expect("the advisor reads it")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(read.progress(), pb::Progress::Started);
    assert_eq!(read.next_contact, date(2026, 12, 15));
    assert_eq!(read.feedback_note, "Kommt regelmäßig, wirkt motiviert");
}

#[tokio::test]
async fn an_inactive_partner_gets_no_referral_and_its_offers_are_not_found() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity]).await;
    let mut admin = c.staff(&c.admin).await;
    let updated = admin
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: c.partner.id.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["active".into()],
            }),
        })
        .await
        .expect("deactivated")
        .into_inner()
        .partner
        .expect("partner");
    assert!(!updated.active);
    assert_eq!(
        updated.display_name, c.partner.display_name,
        "only what the mask names"
    );
    let mut staff = c.staff(&c.world.office.advisor).await;
    let status = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect_err("inactive partner");
    assert_eq!(error_reason(&status).as_deref(), Some("PARTNER_INACTIVE"));
    let found = staff
        .search_offers(pb::SearchOffersRequest::default())
        .await
        .expect("search")
        .into_inner();
    assert!(found.offers.is_empty());
    let bad = admin
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                contact: "x".repeat(501),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("bad partner");
    assert_eq!(
        bad_fields(&bad),
        ["partner.contact", "partner.display_name", "partner.kind"]
    );
}

#[tokio::test]
async fn a_partner_lists_only_what_changed_since_it_last_looked() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity]).await;
    let mut staff = c.staff(&c.world.office.advisor).await;
    let mut agency = c.agency(&c.agency).await;
    let first = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect("first")
        .into_inner()
        .referral
        .expect("referral");
    let looked = first.update_time;
    c.world
        .partner()
        .clock
        .set(fallwerk_tests::world::today() + chrono::Duration::minutes(5));
    let second = staff
        .create_referral(c.referral(&[Identity]))
        .await
        .expect("second")
        .into_inner()
        .referral
        .expect("referral");
    let since = agency
        .list_my_referrals(pb::ListMyReferralsRequest {
            changed_since: looked,
            ..Default::default()
        })
        .await
        .expect("changed since")
        .into_inner()
        .referrals;
    assert_eq!(
        since.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str()]
    );
}

#[tokio::test]
async fn a_case_s_consents_and_referrals_come_a_page_at_a_time_newest_first() {
    let c = Cooperation::open(3).await;
    let mut consents = Vec::new();
    for categories in [
        &[Identity][..],
        &[Identity, PlanSteps],
        &[Identity, Household],
    ] {
        consents.push(c.consent(categories).await.id);
    }
    let mut staff = c.staff(&c.world.office.advisor).await;
    let mut referrals = Vec::new();
    for _ in 0..3 {
        let referral = staff
            .create_referral(c.referral(&[Identity]))
            .await
            .expect("referred")
            .into_inner()
            .referral
            .expect("referral");
        referrals.push(referral.id);
    }

    let first = staff
        .list_consents(pb::ListConsentsRequest {
            case_id: c.case.id.clone(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .expect("first page")
        .into_inner();
    let second = staff
        .list_consents(pb::ListConsentsRequest {
            case_id: c.case.id.clone(),
            page_size: 2,
            page_token: first.next_page_token.clone(),
        })
        .await
        .expect("second page")
        .into_inner();
    assert!(
        second.next_page_token.is_empty(),
        "three consents, two pages"
    );
    let listed: Vec<&str> = first
        .consents
        .iter()
        .chain(&second.consents)
        .map(|c| c.id.as_str())
        .collect();
    let newest_first: Vec<&str> = consents.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);

    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = staff
            .list_referrals(pb::ListReferralsRequest {
                case_id: c.case.id.clone(),
                page_size: 1,
                page_token,
            })
            .await
            .expect("page")
            .into_inner();
        assert_eq!(page.referrals.len(), 1);
        listed.extend(page.referrals.into_iter().map(|r| r.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    referrals.reverse();
    assert_eq!(listed, referrals, "every referral once, newest first");

    // A consents token is not a referrals token.
    let misused = staff
        .list_referrals(pb::ListReferralsRequest {
            case_id: c.case.id.clone(),
            page_size: 2,
            page_token: first.next_page_token,
        })
        .await
        .expect_err("a token of another listing");
    assert_eq!(bad_fields(&misused), ["page_token"]);
}
