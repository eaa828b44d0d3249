//! Bad input is answered INVALID_ARGUMENT naming every bad field, and writes nothing.

use fallwerk_proto::{intake as pb, types};
use fallwerk_tests::bad_fields;
use tonic::Code;

use crate::{Office, date};

async fn written(office: &Office) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM intake.applicants) + (SELECT count(*) FROM intake.visits)
              + (SELECT count(*) FROM intake.access_checks) + (SELECT count(*) FROM intake.consultations)
              + (SELECT count(*) FROM intake.case_openings) + (SELECT count(*) FROM intake.teams)
              + (SELECT count(*) FROM intake.advisors) + (SELECT count(*) FROM intake.outbox)
              + (SELECT count(*) FROM intake.idempotency) + (SELECT count(*) FROM intake.household_links)",
    )
    .fetch_one(&office.app.db.pool().await)
    .await
    .expect("count")
}

/// Runs `call` and asserts it is refused INVALID_ARGUMENT naming exactly `fields`, and that
/// nothing was written.
async fn assert_refused<T: std::fmt::Debug>(
    office: &Office,
    call: impl Future<Output = Result<T, tonic::Status>>,
    fields: &[&str],
) {
    let before = written(office).await;
    let status = call.await.expect_err("bad input must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), fields, "{status:?}");
    assert_eq!(
        written(office).await,
        before,
        "a refused request wrote nothing"
    );
}

#[tokio::test]
async fn create_applicant_names_every_bad_field() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::CreateApplicantRequest {
        applicant: Some(pb::Applicant {
            given_name: "   ".into(),
            family_name: "x".repeat(201),
            birth_date: date(1990, 2, 30),
            household: Some(pb::Household {
                single_parent: true,
                children_ages: vec![4, 31],
                ..Default::default()
            }),
            interpreter_language: "not a tag!".into(),
            ..Default::default()
        }),
        allow_duplicate: false,
        request_id: "retry-1".into(),
    };
    assert_refused(
        &office,
        desk.create_applicant(request),
        &[
            "applicant.birth_date",
            "applicant.family_name",
            "applicant.given_name",
            "applicant.household.children_ages[1]",
            "applicant.interpreter_language",
            "request_id",
        ],
    )
    .await;
}

#[tokio::test]
async fn create_applicant_needs_an_applicant() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::CreateApplicantRequest::default();
    assert_refused(&office, desk.create_applicant(request), &["applicant"]).await;
}

#[tokio::test]
async fn a_birth_date_in_the_future_is_refused() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::CreateApplicantRequest {
        applicant: Some(crate::applicant("Zukunft", "Zoe", 2999, 1, 1)),
        ..Default::default()
    };
    assert_refused(
        &office,
        desk.create_applicant(request),
        &["applicant.birth_date"],
    )
    .await;
}

#[tokio::test]
async fn register_visit_names_a_malformed_id_and_an_overlong_concern() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::RegisterVisitRequest {
        applicant_id: "42".into(),
        concern: "c".repeat(501),
        request_id: String::new(),
        ..Default::default()
    };
    assert_refused(
        &office,
        desk.register_visit(request),
        &["applicant_id", "concern"],
    )
    .await;
}

#[tokio::test]
async fn an_access_check_names_bad_claims_a_missing_decision_and_emergency_note() {
    let office = Office::open().await;
    let visit = office.ready_visit(&office.desk).await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::RecordAccessCheckRequest {
        visit_id: visit.id.clone(),
        access_check: Some(pb::AccessCheck {
            claims: vec![
                pb::ClaimCheck {
                    claim: pb::PriorityClaim::HousingBenefit.into(),
                    outcome: pb::ClaimOutcome::None.into(),
                    note: String::new(),
                },
                pb::ClaimCheck {
                    claim: pb::PriorityClaim::HousingBenefit.into(),
                    outcome: 99,
                    note: String::new(),
                },
            ],
            emergency_need: true,
            emergency_note: String::new(),
            decision: pb::AccessDecision::Unspecified.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_refused(
        &office,
        desk.record_access_check(request),
        &[
            "access_check.claims[1].outcome",
            "access_check.decision",
            "access_check.emergency_note",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_priority_provider_decision_needs_a_claim() {
    let office = Office::open().await;
    let visit = office.ready_visit(&office.desk).await;
    let mut desk = office.client(&office.desk).await;
    let request = pb::RecordAccessCheckRequest {
        visit_id: visit.id.clone(),
        access_check: Some(pb::AccessCheck {
            decision: pb::AccessDecision::PriorityProvider.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_refused(
        &office,
        desk.record_access_check(request),
        &["access_check.decision"],
    )
    .await;
}

#[tokio::test]
async fn start_consultation_needs_a_visit_id() {
    let office = Office::open().await;
    let mut advisor = office.client(&office.advisor).await;
    let request = pb::StartConsultationRequest::default();
    assert_refused(&office, advisor.start_consultation(request), &["visit_id"]).await;
}

#[tokio::test]
async fn an_outcome_names_missing_steps_repeated_barriers_a_track_beyond_capacity_and_no_basis() {
    let office = Office::open().await;
    let consultation = office.consultation(&office.desk, &office.advisor).await;
    let mut advisor = office.client(&office.advisor).await;
    let request = pb::CompleteConsultationRequest {
        consultation_id: consultation.id.clone(),
        outcome: Some(pb::ConsultationOutcome {
            first_steps: vec![],
            capacity_to_work: types::CapacityToWork::None.into(),
            activation_track: types::ActivationTrack::JobPlacement.into(),
            barriers: vec![types::Barrier::Debt.into(), types::Barrier::Debt.into()],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_refused(
        &office,
        advisor.complete_consultation(request),
        &[
            "outcome.activation_track",
            "outcome.barriers[1]",
            "outcome.capacity_basis",
            "outcome.first_steps",
        ],
    )
    .await;
}

#[tokio::test]
async fn open_case_names_a_malformed_consultation_and_an_unknown_assignment() {
    let office = Office::open().await;
    let mut advisor = office.client(&office.advisor).await;
    let request = pb::OpenCaseRequest {
        consultation_id: "nope".into(),
        assignment: 7,
        request_id: String::new(),
    };
    assert_refused(
        &office,
        advisor.open_case(request),
        &["assignment", "consultation_id"],
    )
    .await;
}

#[tokio::test]
async fn a_team_needs_a_name() {
    let office = Office::open().await;
    let mut admin = office.client(&office.admin).await;
    let request = pb::CreateTeamRequest {
        team: Some(pb::Team::default()),
        request_id: String::new(),
    };
    assert_refused(&office, admin.create_team(request), &["team.display_name"]).await;
}

#[tokio::test]
async fn create_advisor_names_every_bad_field() {
    let office = Office::open().await;
    let mut admin = office.client(&office.admin).await;
    let request = pb::CreateAdvisorRequest {
        advisor: Some(pb::Advisor {
            team_id: "team".into(),
            capacity: 0,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    assert_refused(
        &office,
        admin.create_advisor(request),
        &[
            "advisor.capacity",
            "advisor.display_name",
            "advisor.function",
            "advisor.subject",
            "advisor.team_id",
        ],
    )
    .await;
}

#[tokio::test]
async fn team_figures_need_a_period_that_ends_after_it_starts() {
    let office = Office::open().await;
    let mut lead = office.client(&office.lead).await;
    let request = pb::GetTeamFiguresRequest {
        team_id: office.team.to_string(),
        start_date: date(2026, 5, 1),
        end_date: date(2026, 4, 1),
    };
    assert_refused(&office, lead.get_team_figures(request), &["end_date"]).await;
}
