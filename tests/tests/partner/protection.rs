//! Data protection across the services, seen from a referral: contact data only from
//! intake and only when consented, every service's chained audit trail, the person's records
//! for an access report, and hostile texts refused by field or kept exactly.

use fallwerk_proto::{partner as pb, types};
use fallwerk_tests::bad_fields;
use tonic::Code;
use types::DataCategory::{Contact, Identity, PlanSteps};

use crate::{Cooperation, WorldExt};

#[tokio::test]
async fn a_referral_with_contact_consented_carries_how_to_reach_the_client_from_intake() {
    use fallwerk_proto::intake;
    let c = Cooperation::open(3).await;
    let office = &c.world.office;
    let mut desk = office.client(&office.desk).await;
    let applicant = desk
        .get_applicant(intake::GetApplicantRequest {
            id: c.case.applicant_id.clone(),
        })
        .await
        .expect("applicant")
        .into_inner()
        .applicant
        .expect("applicant");
    let contact = types::Contact {
        address: Some(types::PostalAddress {
            street: "Torstr. 5".into(),
            postal_code: "10119".into(),
            city: "Berlin".into(),
            ..Default::default()
        }),
        phone: "030 1234567".into(),
        preferred_channel: types::ContactChannel::Phone.into(),
        ..Default::default()
    };
    desk.update_applicant(intake::UpdateApplicantRequest {
        applicant: Some(intake::Applicant {
            id: applicant.id.clone(),
            etag: applicant.etag.clone(),
            contact: Some(contact.clone()),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["contact".into()],
        }),
    })
    .await
    .expect("contact recorded");

    c.consent(&[Identity, PlanSteps, Contact]).await;
    let mut staff = c.staff(&office.advisor).await;
    let with_contact = staff
        .create_referral(c.referral(&[PlanSteps, Contact]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    let data = with_contact.data.expect("data");
    assert_eq!(data.contact, Some(contact));
    assert_eq!(data.display_name, "", "identity was not asked for");

    // Without the category, no contact travels, though the consent would allow it.
    let without = staff
        .create_referral(c.referral(&[Identity, PlanSteps]))
        .await
        .expect("referral")
        .into_inner()
        .referral
        .expect("referral");
    assert_eq!(without.data.expect("data").contact, None);
}

#[tokio::test]
async fn every_service_keeps_its_own_chained_audit_trail_of_a_referral() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity, PlanSteps]).await;
    let referral = c.refer(&[Identity, PlanSteps]).await;
    for (service, app) in [
        ("intake", &c.world.office.app),
        ("case-plan", &c.world.case_plan),
        ("partner", c.world.partner()),
    ] {
        let trail = fallwerk_tests::linked_audit_trail(app).await;
        assert!(trail.intact, "{service}: {trail:?}");
        assert!(trail.chained_records > 0, "{service}");
    }
    // partner's trail names the referral; case-plan's the snapshot partner took for it.
    let auditor =
        fallwerk_tests::token("auditor-1", &[fallwerk_platform::auth::Role::Auditor], None);
    let about = |kind: &str, id: &str| fallwerk_proto::audit::ListAuditRecordsRequest {
        resource_type: kind.into(),
        resource_id: id.into(),
        ..Default::default()
    };
    let mut at_partner: fallwerk_tests::AuditClient = c.world.partner().client(&auditor).await;
    let records = at_partner
        .list_audit_records(about("referral", &referral.id))
        .await
        .expect("partner's trail")
        .into_inner()
        .records;
    assert!(records.iter().any(|r| r.action == "CreateReferral"));
    let mut at_case_plan: fallwerk_tests::AuditClient = c.world.case_plan.client(&auditor).await;
    let records = at_case_plan
        .list_audit_records(about("case_snapshot", &c.case.id))
        .await
        .expect("case-plan's trail")
        .into_inner()
        .records;
    assert!(records.iter().any(|r| r.action == "GetCaseSnapshot"));
}

#[tokio::test]
async fn an_auditor_finds_everything_about_a_person_in_every_service() {
    use fallwerk_proto::audit as audit_pb;
    let c = Cooperation::open(2).await;
    c.consent(&[Identity, PlanSteps]).await;
    let referral = c.refer(&[Identity, PlanSteps]).await;
    let person = c.case.applicant_id.clone();
    let auditor =
        fallwerk_tests::token("auditor-1", &[fallwerk_platform::auth::Role::Auditor], None);
    let about_person = || audit_pb::ListAuditRecordsRequest {
        person_id: person.clone(),
        ..Default::default()
    };
    let mut found = Vec::new();
    for (service, app) in [
        ("intake", &c.world.office.app),
        ("case-plan", &c.world.case_plan),
        ("partner", c.world.partner()),
    ] {
        let mut client: fallwerk_tests::AuditClient = app.client(&auditor).await;
        let records = client
            .list_audit_records(about_person())
            .await
            .expect("the person's records")
            .into_inner()
            .records;
        found.extend(
            records
                .into_iter()
                .map(|r| (service, r.action, r.resource_id)),
        );
    }
    let has = |service: &str, action: &str, id: &str| {
        found
            .iter()
            .any(|(s, a, r)| *s == service && a == action && r == id)
    };
    assert!(has("intake", "CreateApplicant", &person), "{found:?}");
    assert!(has("intake", "OpenCase", &c.case.id), "{found:?}");
    assert!(has("case-plan", "GetCaseSnapshot", &c.case.id), "{found:?}");
    assert!(has("partner", "CreateReferral", &referral.id), "{found:?}");
    // Another person's records stay out.
    let other = c
        .world
        .office
        .applicant(&c.world.office.desk, "Andere")
        .await;
    assert!(!found.iter().any(|(_, _, r)| *r == other));

    // What was shared, for the same person, from partner's data-sharing record.
    let mut as_auditor = c.staff(&auditor).await;
    let sharing = as_auditor
        .get_data_sharing_record(pb::GetDataSharingRecordRequest {
            applicant_id: person.clone(),
            ..Default::default()
        })
        .await
        .expect("the person's sharing record")
        .into_inner();
    assert_eq!(sharing.shared.len(), 1);
    assert_eq!(sharing.shared[0].referral_id, referral.id);
    assert_eq!(sharing.shared[0].case_id, c.case.id);
    // Staff ask by case, never by person.
    let status = c
        .staff(&c.world.office.advisor)
        .await
        .get_data_sharing_record(pb::GetDataSharingRecordRequest {
            applicant_id: person,
            ..Default::default()
        })
        .await
        .expect_err("staff by person");
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn hostile_texts_are_refused_by_name_or_kept_exactly_in_case_plan_and_partner_too() {
    use fallwerk_proto::caseplan as cp;
    let c = Cooperation::open(1).await;
    let hostile = "Ziel'); DELETE FROM caseplan.cases;-- e\u{301} محمد %_";

    // case-plan: a plan's goal in the client's own words.
    let mut plans = c.world.plans(&c.world.office.advisor).await;
    let mut revision = fallwerk_tests::world::first_plan(&c.case.id);
    revision.cause = cp::RevisionCause::Review.into();
    revision.goals[0].own_words = "Ziel\u{202E}tohcs".into();
    let status = plans
        .revise_help_plan(revision.clone())
        .await
        .expect_err("a bidi override");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        bad_fields(&status).iter().any(|f| f.ends_with("own_words")),
        "{:?}",
        bad_fields(&status)
    );
    let mut goals = c.plan.goals.clone();
    goals[0].own_words = hostile.into();
    let revised = plans
        .revise_help_plan(cp::ReviseHelpPlanRequest {
            case_id: c.case.id.clone(),
            goals,
            cause: cp::RevisionCause::Review.into(),
            etag: c.plan.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("stored")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(revised.goals[0].own_words, hostile);
    let read = plans
        .get_help_plan(cp::GetHelpPlanRequest {
            case_id: c.case.id.clone(),
        })
        .await
        .expect("read back")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(read.goals[0].own_words, hostile);

    // partner: a partner's name.
    let admin = fallwerk_tests::token("admin-1", &[fallwerk_platform::auth::Role::Admin], None);
    let mut as_admin = c.staff(&admin).await;
    let create = |name: &str| pb::CreatePartnerRequest {
        partner: Some(pb::Partner {
            kind: pb::PartnerKind::Other.into(),
            display_name: name.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    for bad in ["Beratung\0Nord", "Beratung\u{2066}Nord\u{2069}"] {
        let status = as_admin
            .create_partner(create(bad))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&status), ["partner.display_name"]);
    }
    let stored = as_admin
        .create_partner(create(hostile))
        .await
        .expect("stored")
        .into_inner()
        .partner
        .expect("partner");
    assert_eq!(stored.display_name, hostile);
}
