//! Applicant records: duplicates caught, retries harmless, concurrent edits detected.

use fallwerk_proto::intake as pb;
use fallwerk_tests::{error_domain, error_metadata, error_reason};

use crate::{Office, applicant};

async fn count(office: &Office, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&office.app.db.pool().await)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_second_record_with_the_same_name_and_birth_date_is_refused_with_the_candidates() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let first = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(applicant("Müller", "Anna", 1990, 5, 1)),
            ..Default::default()
        })
        .await
        .expect("first record")
        .into_inner()
        .applicant
        .expect("applicant");

    // Spelled the other way, in capitals: still the same person.
    let refused = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(applicant("MUELLER", "anna", 1990, 5, 1)),
            ..Default::default()
        })
        .await
        .expect_err("likely duplicate");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(error_reason(&refused).as_deref(), Some("LIKELY_DUPLICATE"));
    assert_eq!(
        error_domain(&refused).as_deref(),
        Some("fallwerk.intake.v1")
    );
    assert_eq!(
        error_metadata(&refused, "candidate_1"),
        Some(first.id.clone())
    );
    assert_eq!(
        error_metadata(&refused, "candidate_count").as_deref(),
        Some("1")
    );
    assert_eq!(
        count(&office, "SELECT count(*) FROM intake.applicants").await,
        1
    );

    // Another birth date is another person.
    desk.create_applicant(pb::CreateApplicantRequest {
        applicant: Some(applicant("Müller", "Anna", 1991, 5, 1)),
        ..Default::default()
    })
    .await
    .expect("different person");

    // The desk checked the candidates and it really is someone else: allowed on purpose.
    desk.create_applicant(pb::CreateApplicantRequest {
        applicant: Some(applicant("Mueller", "Anna", 1990, 5, 1)),
        allow_duplicate: true,
        request_id: String::new(),
    })
    .await
    .expect("explicitly allowed");
    assert_eq!(
        count(&office, "SELECT count(*) FROM intake.applicants").await,
        3
    );
}

#[tokio::test]
async fn a_retried_create_with_the_same_request_id_returns_the_first_answer_and_writes_once() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::CreateApplicantRequest {
        applicant: Some(applicant("Yılmaz", "Ayşe", 1979, 11, 30)),
        allow_duplicate: false,
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let first = desk
        .create_applicant(request.clone())
        .await
        .expect("first")
        .into_inner();
    let retry = desk
        .create_applicant(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first, retry);
    assert_eq!(
        count(&office, "SELECT count(*) FROM intake.applicants").await,
        1
    );
    assert_eq!(
        count(&office, "SELECT count(*) FROM intake.outbox WHERE event_type = 'fallwerk.intake.v1.ApplicantRegistered'").await,
        1
    );

    // The same id for a different request is a client bug, not a retry.
    let mut other = request.clone();
    other.applicant.as_mut().expect("applicant").given_name = "Zeynep".into();
    let refused = desk
        .create_applicant(other)
        .await
        .expect_err("reused request id");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert_eq!(fallwerk_tests::bad_fields(&refused), ["request_id"]);
}

#[tokio::test]
async fn concurrent_retries_of_one_visit_registration_register_one_visit() {
    let office = Office::open().await;
    let applicant = office.applicant(&office.desk, "Nowak").await;
    let request = pb::RegisterVisitRequest {
        applicant_id: applicant,
        concern: String::new(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    let mut calls = Vec::new();
    for _ in 0..4 {
        let mut desk = office.client(&office.desk).await;
        let request = request.clone();
        calls.push(tokio::spawn(async move {
            desk.register_visit(request).await.map(|r| r.into_inner())
        }));
    }
    let mut ids = Vec::new();
    for call in calls {
        ids.push(
            call.await
                .expect("task")
                .expect("registered")
                .visit
                .expect("visit")
                .id,
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry got the same visit");
    assert_eq!(
        count(&office, "SELECT count(*) FROM intake.visits").await,
        1
    );
    // The attempts that lost left nothing behind: one event, one audit record, one answer.
    let visit_events = "SELECT count(*) FROM intake.outbox \
                        WHERE event_type = 'fallwerk.intake.v1.VisitRegistered'";
    assert_eq!(count(&office, visit_events).await, 1);
    let audit = "SELECT count(*) FROM intake.audit_log WHERE action = 'RegisterVisit'";
    assert_eq!(count(&office, audit).await, 1);
    let answers = "SELECT count(*) FROM intake.idempotency WHERE method = 'RegisterVisit'";
    assert_eq!(count(&office, answers).await, 1);
}

#[tokio::test]
async fn a_retry_after_the_first_attempt_moved_the_visit_on_gets_the_first_answer() {
    // The first StartConsultation took the visit out of the queue, so doing it again would
    // fail; the retry (its answer lost, say) must still get the first answer, not an error.
    let office = Office::open().await;
    let visit = office.ready_visit(&office.desk).await;
    let mut advisor = office.client(&office.advisor).await;
    let request = pb::StartConsultationRequest {
        visit_id: visit.id.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let first = advisor
        .start_consultation(request.clone())
        .await
        .expect("started")
        .into_inner();
    let retry = advisor
        .start_consultation(request)
        .await
        .expect("the retry is answered")
        .into_inner();
    assert_eq!(first, retry);
    let started = "SELECT count(*) FROM intake.consultations";
    assert_eq!(count(&office, started).await, 1);
    // Without the request id, a second start is refused: the state really moved on.
    let again = advisor
        .start_consultation(pb::StartConsultationRequest {
            visit_id: visit.id,
            request_id: String::new(),
        })
        .await
        .expect_err("the visit is no longer waiting");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn an_update_with_a_stale_etag_is_aborted_and_changes_nothing() {
    let office = Office::open().await;
    let id = office.applicant(&office.desk, "Becker").await;
    let mut desk = office.client(&office.desk).await;
    let read = desk
        .get_applicant(pb::GetApplicantRequest { id: id.clone() })
        .await
        .expect("read")
        .into_inner()
        .applicant
        .expect("applicant");

    let mut change = read.clone();
    change.interpreter_language = "uk".into();
    let updated = desk
        .update_applicant(pb::UpdateApplicantRequest {
            applicant: Some(change),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["interpreter_language".into()],
            }),
        })
        .await
        .expect("update with current etag")
        .into_inner()
        .applicant
        .expect("applicant");
    assert_eq!(updated.interpreter_language, "uk");
    assert_ne!(updated.etag, read.etag);
    assert_eq!(
        updated.family_name, "Becker",
        "unmasked fields keep their value"
    );

    // A second desk still holding the old read.
    let mut stale = read.clone();
    stale.family_name = "Bäcker".into();
    let refused = desk
        .update_applicant(pb::UpdateApplicantRequest {
            applicant: Some(stale),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["family_name".into()],
            }),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(refused.code(), tonic::Code::Aborted);
    let now = desk
        .get_applicant(pb::GetApplicantRequest { id })
        .await
        .expect("read")
        .into_inner()
        .applicant
        .expect("applicant");
    assert_eq!(now.family_name, "Becker");
}

#[tokio::test]
async fn search_finds_people_by_folded_name_prefix_page_by_page() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    for given in ["Anna", "Berta", "Clara", "Dora", "Emma"] {
        desk.create_applicant(pb::CreateApplicantRequest {
            applicant: Some(applicant("Schröder", given, 1985, 1, 1)),
            ..Default::default()
        })
        .await
        .expect("created");
    }
    desk.create_applicant(pb::CreateApplicantRequest {
        applicant: Some(applicant("Schulz", "Anna", 1985, 1, 1)),
        ..Default::default()
    })
    .await
    .expect("created");

    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = desk
            .search_applicants(pb::SearchApplicantsRequest {
                family_name: "schroe".into(),
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner();
        assert!(page.applicants.len() <= 2);
        seen.extend(page.applicants.into_iter().map(|a| a.given_name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, ["Anna", "Berta", "Clara", "Dora", "Emma"]);
}

#[tokio::test]
async fn the_basic_search_view_hides_household_data_that_the_full_record_shows() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let created = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(applicant("Yilmaz", "Elif", 1991, 7, 3)),
            ..Default::default()
        })
        .await
        .expect("created")
        .into_inner()
        .applicant
        .expect("applicant");
    let found = desk
        .search_applicants(pb::SearchApplicantsRequest {
            family_name: "yilmaz".into(),
            ..Default::default()
        })
        .await
        .expect("search")
        .into_inner()
        .applicants;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    // Read as a full record (an older client does so), the summary carries no household.
    let as_record = <pb::Applicant as prost::Message>::decode(
        prost::Message::encode_to_vec(&found[0]).as_slice(),
    )
    .expect("wire-compatible");
    assert_eq!(as_record.family_name, "Yilmaz");
    assert!(as_record.household.is_none(), "{as_record:?}");
    // The full record is GetApplicant's.
    let full = desk
        .get_applicant(pb::GetApplicantRequest { id: created.id })
        .await
        .expect("get")
        .into_inner()
        .applicant
        .expect("applicant");
    assert_eq!(full.household.map(|h| h.single_parent), Some(true));
}

#[tokio::test]
async fn a_visit_for_an_unknown_person_or_team_is_refused_and_writes_nothing() {
    let office = Office::open().await;
    let known = office.applicant(&office.desk, "Kowalski").await;
    let visit = |applicant_id: &str| pb::RegisterVisitRequest {
        applicant_id: applicant_id.into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };

    let mut desk = office.client(&office.desk).await;
    let unknown = desk
        .register_visit(visit(&uuid::Uuid::new_v4().to_string()))
        .await
        .expect_err("no such person");
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    let stray = fallwerk_tests::token(
        "desk-of-no-team",
        &[fallwerk_platform::auth::Role::FrontDesk],
        Some(uuid::Uuid::new_v4()),
    );
    let refused = office
        .client(&stray)
        .await
        .register_visit(visit(&known))
        .await
        .expect_err("the desk's team is not in the roster");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(error_reason(&refused).as_deref(), Some("UNKNOWN_TEAM"));

    for table in [
        "SELECT count(*) FROM intake.visits",
        "SELECT count(*) FROM intake.outbox WHERE event_type = 'fallwerk.intake.v1.VisitRegistered'",
        "SELECT count(*) FROM intake.audit_log WHERE action = 'RegisterVisit'",
        "SELECT count(*) FROM intake.idempotency WHERE method = 'RegisterVisit'",
    ] {
        assert_eq!(count(&office, table).await, 0, "{table}");
    }
}
