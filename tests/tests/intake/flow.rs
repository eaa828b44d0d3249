//! The whole intake flow, as an office runs it.

use fallwerk_proto::{intake as pb, types};
use fallwerk_tests::{error_metadata, error_reason};

use crate::{Office, applicant, complete, continue_check, wire_date};

#[tokio::test]
async fn a_person_who_walks_in_is_registered_consulted_the_same_day_and_gets_a_case() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let mut advisor = office.client(&office.advisor).await;
    let mut lead = office.client(&office.lead).await;

    // Front desk registers the person and the visit.
    let person = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(applicant("Schmitz", "Maria", 1988, 2, 29)),
            allow_duplicate: false,
            request_id: String::new(),
        })
        .await
        .expect("applicant created")
        .into_inner()
        .applicant
        .expect("applicant");
    assert_eq!(person.family_name, "Schmitz");
    assert_eq!(
        person.household.as_ref().map(|h| h.single_parent),
        Some(true)
    );
    let visit = desk
        .register_visit(pb::RegisterVisitRequest {
            applicant_id: person.id.clone(),
            concern: "Kein Geld für Miete".into(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("visit registered")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(visit.state(), pb::VisitState::Waiting);

    // The person waits in today's queue.
    let queue = office.queue(&office.desk).await;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].family_name, "Schmitz");
    assert_eq!(
        queue[0].visit.as_ref().map(|v| v.id.clone()),
        Some(visit.id.clone())
    );

    // Access check: no priority claim settles it; continue into case management.
    let checked = desk
        .record_access_check(continue_check(&visit.id))
        .await
        .expect("access check")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(checked.state(), pb::VisitState::ReadyForConsultation);
    let check = checked.access_check.expect("check stored");
    assert_eq!(check.claims.len(), 2);
    assert_eq!(check.checked_by, "desk-1");

    // The advisor consults.
    let started = advisor
        .start_consultation(pb::StartConsultationRequest {
            visit_id: visit.id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("started")
        .into_inner()
        .consultation
        .expect("consultation");
    assert_eq!(started.state(), pb::ConsultationState::InProgress);
    let queue = office.queue(&office.desk).await;
    assert!(queue.is_empty(), "a person in consultation no longer waits");

    let completed = advisor
        .complete_consultation(complete(&started.id))
        .await
        .expect("completed")
        .into_inner()
        .consultation
        .expect("consultation");
    assert_eq!(completed.state(), pb::ConsultationState::Completed);
    let outcome = completed.outcome.expect("outcome");
    assert_eq!(
        outcome.activation_track(),
        types::ActivationTrack::WithSupport
    );
    assert_eq!(outcome.first_steps.len(), 2);

    // The case opens with the consulting advisor responsible.
    let opening = advisor
        .open_case(pb::OpenCaseRequest {
            consultation_id: started.id.clone(),
            assignment: pb::AdvisorAssignment::Unspecified.into(),
            request_id: String::new(),
        })
        .await
        .expect("case opened")
        .into_inner()
        .case_opening
        .expect("opening");
    assert_eq!(opening.responsible_advisor_id, started.advisor_id);
    assert_eq!(opening.applicant_id, person.id);
    assert!(opening.same_day);

    // A second opening of the same consultation is refused.
    let again = advisor
        .open_case(pb::OpenCaseRequest {
            consultation_id: started.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("only one case per consultation");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        fallwerk_tests::error_reason(&again).as_deref(),
        Some("CASE_ALREADY_OPEN")
    );
    assert_eq!(
        fallwerk_tests::error_metadata(&again, "case_id"),
        Some(opening.case_id.clone()),
        "the refusal names the case the consultation opened"
    );
    // The consultation names its case from now on.
    let consulted = advisor
        .get_consultation(pb::GetConsultationRequest {
            id: started.id.clone(),
        })
        .await
        .expect("consultation read")
        .into_inner()
        .consultation
        .expect("consultation");
    assert_eq!(consulted.case_id, opening.case_id);

    // The team lead sees it in the figures.
    // A day either side of today covers the office day in Berlin whatever the UTC hour.
    let today = chrono::Utc::now().date_naive();
    let figures = lead
        .get_team_figures(pb::GetTeamFiguresRequest {
            team_id: office.team.to_string(),
            start_date: Some(wire_date(today - chrono::Duration::days(1))),
            end_date: Some(wire_date(today + chrono::Duration::days(1))),
        })
        .await
        .expect("figures")
        .into_inner();
    assert_eq!(figures.visits, 1);
    assert_eq!(figures.consultations, 1);
    assert_eq!(figures.same_day_consultations, 1);
    assert_eq!(figures.same_day_rate, 1.0);
    let load = figures
        .caseloads
        .iter()
        .find(|c| c.advisor_id == started.advisor_id)
        .expect("advisor in caseloads");
    assert_eq!(load.open_cases, 1);

    // Every state change left its event, in order, in the outbox.
    let pool = office.app.db.pool().await;
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM intake.outbox ORDER BY seq")
            .fetch_all(&pool)
            .await
            .expect("outbox");
    let flow: Vec<&str> = events
        .iter()
        .map(String::as_str)
        .skip_while(|e| *e != "fallwerk.intake.v1.ApplicantRegistered")
        .collect();
    assert_eq!(
        flow,
        [
            "fallwerk.intake.v1.ApplicantRegistered",
            "fallwerk.intake.v1.VisitRegistered",
            "fallwerk.intake.v1.AccessCheckRecorded",
            "fallwerk.intake.v1.ConsultationStarted",
            "fallwerk.intake.v1.ConsultationCompleted",
            "fallwerk.intake.v1.CaseOpened",
        ]
    );
    // And every access to personal data is in the audit log, with who did it.
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT subject, action FROM intake.audit_log ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("audit log");
    for expected in [
        ("desk-1", "CreateApplicant"),
        ("desk-1", "RegisterVisit"),
        ("desk-1", "ListWaitingQueue"),
        ("advisor-1", "StartConsultation"),
        ("advisor-1", "CompleteConsultation"),
        ("advisor-1", "OpenCase"),
    ] {
        assert!(
            audited
                .iter()
                .any(|(s, a)| s == expected.0 && a == expected.1),
            "audit log lacks {expected:?}"
        );
    }
}

#[tokio::test]
async fn lowest_caseload_assignment_picks_the_least_loaded_active_advisor() {
    let office = Office::open().await;
    // advisor-1 already carries a case; advisor-2 carries none.
    let first = office
        .completed_consultation(&office.desk, &office.advisor)
        .await;
    let mut advisor = office.client(&office.advisor).await;
    advisor
        .open_case(pb::OpenCaseRequest {
            consultation_id: first.id.clone(),
            ..Default::default()
        })
        .await
        .expect("first case");
    let second = office
        .completed_consultation(&office.desk, &office.advisor)
        .await;
    let opening = advisor
        .open_case(pb::OpenCaseRequest {
            consultation_id: second.id.clone(),
            assignment: pb::AdvisorAssignment::LowestCaseload.into(),
            request_id: String::new(),
        })
        .await
        .expect("second case")
        .into_inner()
        .case_opening
        .expect("opening");
    let advisors = office.advisors().await;
    let advisor_2 = advisors
        .iter()
        .find(|a| a.subject == "advisor-2")
        .expect("advisor-2");
    assert_eq!(opening.responsible_advisor_id, advisor_2.id);
    assert!(
        advisors.iter().all(|a| a.open_cases == 1),
        "one case each now: {advisors:?}"
    );
}

#[tokio::test]
async fn a_visit_sent_to_a_priority_provider_gets_no_consultation() {
    let office = Office::open().await;
    let visit = office.visit(&office.desk).await;
    let mut check = continue_check(&visit.id);
    let access = check.access_check.as_mut().expect("check");
    access.decision = pb::AccessDecision::PriorityProvider.into();
    access.claims.push(pb::ClaimCheck {
        claim: pb::PriorityClaim::JobCenter.into(),
        outcome: pb::ClaimOutcome::ToBeApplied.into(),
        note: "erwerbsfähig, Bürgergeld beantragen".into(),
    });
    let closed = office
        .client(&office.desk)
        .await
        .record_access_check(check)
        .await
        .expect("checked")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(closed.state(), pb::VisitState::Closed);
    let refused = office
        .client(&office.advisor)
        .await
        .start_consultation(pb::StartConsultationRequest {
            visit_id: visit.id,
            request_id: String::new(),
        })
        .await
        .expect_err("closed visits are not consulted");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        fallwerk_tests::error_reason(&refused).as_deref(),
        Some("VISIT_CLOSED")
    );
}

#[tokio::test]
async fn a_returning_client_with_an_open_case_is_refused_a_second_one_and_told_which() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let mut advisor = office.client(&office.advisor).await;
    let mut open_case_of = async |consultation_id: String| {
        advisor
            .open_case(pb::OpenCaseRequest {
                consultation_id,
                assignment: pb::AdvisorAssignment::ConsultingAdvisor.into(),
                request_id: String::new(),
            })
            .await
    };
    let first = office
        .completed_consultation(&office.desk, &office.advisor)
        .await;
    let case = open_case_of(first.id)
        .await
        .expect("first case")
        .into_inner()
        .case_opening
        .expect("opening");

    // The same person comes back another day and is consulted again.
    let visit = desk
        .register_visit(pb::RegisterVisitRequest {
            applicant_id: case.applicant_id.clone(),
            concern: "Frage zum Kita-Gutschein".into(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("second visit")
        .into_inner()
        .visit
        .expect("visit");
    desk.record_access_check(continue_check(&visit.id))
        .await
        .expect("access check");
    let mut advisor_client = office.client(&office.advisor).await;
    let second = advisor_client
        .start_consultation(pb::StartConsultationRequest {
            visit_id: visit.id,
            request_id: String::new(),
        })
        .await
        .expect("consultation")
        .into_inner()
        .consultation
        .expect("consultation");
    advisor_client
        .complete_consultation(complete(&second.id))
        .await
        .expect("completed");

    let refused = open_case_of(second.id)
        .await
        .expect_err("a second open case for the same client");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("CLIENT_HAS_OPEN_CASE")
    );
    assert_eq!(error_metadata(&refused, "case_id"), Some(case.case_id));
    assert_eq!(office.open_cases_of("advisor-1").await, 1);
}
