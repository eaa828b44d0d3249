//! Bad input is answered INVALID_ARGUMENT naming every bad field, and writes nothing.

use fallwerk_proto::intake as pb;
use fallwerk_tests::bad_fields;
use tonic::Code;

use crate::{Office, date};

async fn written(office: &Office) -> i64 {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM intake.applicants) + (SELECT count(*) FROM intake.visits)
              + (SELECT count(*) FROM intake.access_checks) + (SELECT count(*) FROM intake.consultations)
              + (SELECT count(*) FROM intake.case_openings) + (SELECT count(*) FROM intake.teams)
              + (SELECT count(*) FROM intake.advisors) + (SELECT count(*) FROM intake.outbox)
              + (SELECT count(*) FROM intake.idempotency)",
    )
    .fetch_one(&office.app.db.pool().await)
    .await
    .expect("count")
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, tonic::Status>, fields: &[&str]) {
    let status = result.expect_err("bad input must be refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(bad_fields(&status), fields, "{status:?}");
}

#[tokio::test]
async fn every_create_names_each_bad_field_and_writes_nothing() {
    let office = Office::open().await;
    let visit = office.ready_visit(&office.desk).await;
    let consultation = office.consultation(&office.desk, &office.advisor).await;
    let before = written(&office).await;
    let mut desk = office.client(&office.desk).await;
    let mut advisor = office.client(&office.advisor).await;
    let mut admin = office.client(&office.admin).await;

    assert_invalid(
        desk.create_applicant(pb::CreateApplicantRequest {
            applicant: Some(pb::Applicant {
                given_name: "   ".into(),
                family_name: "x".repeat(201),
                birth_date: date(1990, 2, 30),
                household: Some(pb::Household {
                    single_parent: true,
                    children_ages: vec![4, 31],
                }),
                interpreter_language: "not a tag!".into(),
                ..Default::default()
            }),
            allow_duplicate: false,
            request_id: "retry-1".into(),
        })
        .await,
        &[
            "applicant.birth_date",
            "applicant.family_name",
            "applicant.given_name",
            "applicant.household.children_ages[1]",
            "applicant.interpreter_language",
            "request_id",
        ],
    );
    assert_invalid(
        desk.create_applicant(pb::CreateApplicantRequest::default())
            .await,
        &["applicant"],
    );
    assert_invalid(
        desk.create_applicant(pb::CreateApplicantRequest {
            applicant: Some(crate::applicant("Zukunft", "Zoe", 2999, 1, 1)),
            ..Default::default()
        })
        .await,
        &["applicant.birth_date"],
    );
    assert_invalid(
        desk.register_visit(pb::RegisterVisitRequest {
            applicant_id: "42".into(),
            concern: "c".repeat(501),
            request_id: String::new(),
        })
        .await,
        &["applicant_id", "concern"],
    );
    assert_invalid(
        desk.record_access_check(pb::RecordAccessCheckRequest {
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
        })
        .await,
        &[
            "access_check.claims[1].outcome",
            "access_check.decision",
            "access_check.emergency_note",
        ],
    );
    assert_invalid(
        desk.record_access_check(pb::RecordAccessCheckRequest {
            visit_id: visit.id.clone(),
            access_check: Some(pb::AccessCheck {
                decision: pb::AccessDecision::PriorityProvider.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await,
        &["access_check.decision"],
    );
    assert_invalid(
        advisor
            .start_consultation(pb::StartConsultationRequest {
                visit_id: String::new(),
                request_id: String::new(),
            })
            .await,
        &["visit_id"],
    );
    assert_invalid(
        advisor
            .complete_consultation(pb::CompleteConsultationRequest {
                consultation_id: consultation.id.clone(),
                outcome: Some(pb::ConsultationOutcome {
                    first_steps: vec![],
                    capacity_to_work: pb::CapacityToWork::None.into(),
                    activation_track: pb::ActivationTrack::JobPlacement.into(),
                    barriers: vec![pb::Barrier::Debt.into(), pb::Barrier::Debt.into()],
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        &[
            "outcome.activation_track",
            "outcome.barriers[1]",
            "outcome.first_steps",
        ],
    );
    assert_invalid(
        advisor
            .open_case(pb::OpenCaseRequest {
                consultation_id: "nope".into(),
                assignment: 7,
                request_id: String::new(),
            })
            .await,
        &["assignment", "consultation_id"],
    );
    assert_invalid(
        admin
            .create_team(pb::CreateTeamRequest {
                team: Some(pb::Team::default()),
                request_id: String::new(),
            })
            .await,
        &["team.display_name"],
    );
    assert_invalid(
        admin
            .create_advisor(pb::CreateAdvisorRequest {
                advisor: Some(pb::Advisor {
                    team_id: "team".into(),
                    capacity: 0,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        &[
            "advisor.capacity",
            "advisor.display_name",
            "advisor.function",
            "advisor.subject",
            "advisor.team_id",
        ],
    );
    assert_invalid(
        office
            .client(&office.lead)
            .await
            .get_team_figures(pb::GetTeamFiguresRequest {
                team_id: office.team.to_string(),
                start_date: date(2026, 5, 1),
                end_date: date(2026, 4, 1),
            })
            .await,
        &["end_date"],
    );
    assert_eq!(
        written(&office).await,
        before,
        "refused requests wrote nothing"
    );
}
