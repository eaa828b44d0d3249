//! A new person at the front desk, to a case with a responsible advisor, readable in
//! case-plan.

use fallwerk_proto::{caseplan, google::r#type::Date, intake as pb, types};
use tokio::time::Instant;

use super::{Scenario, idempotent, pick, request_id, timed, with};
use crate::report::Recorder;

/// A case the arrival opened, as case-plan answered it.
pub(super) struct Opened {
    /// Index of the responsible advisor among the run's advisors.
    pub(super) advisor: usize,
    pub(super) case: caseplan::Case,
}

impl Scenario {
    /// The `i`-th person's way to a case. A failed step ends the iteration (the next ones
    /// need its answer). The case as case-plan has it, when case-plan's address is known.
    pub(super) async fn arrival(
        &self,
        i: u64,
        intended: Instant,
        recorder: &Recorder,
    ) -> Option<Opened> {
        let mut intake = pb::intake_service_client::IntakeServiceClient::new(pick(&self.intake, i));
        let advisor_index = i as usize % self.advisors.len();
        let advisor = &self.advisors[advisor_index];

        let applicant = timed(
            recorder,
            "intake CreateApplicant",
            intended,
            intake.create_applicant(idempotent(
                pb::CreateApplicantRequest {
                    applicant: Some(person(i)),
                    allow_duplicate: true,
                    request_id: request_id(),
                },
                &self.desk,
            )),
        )
        .await?
        .applicant?;
        recorder.acknowledged("applicant", &applicant.id);
        let visit = timed(
            recorder,
            "intake RegisterVisit",
            Instant::now(),
            intake.register_visit(idempotent(
                pb::RegisterVisitRequest {
                    applicant_id: applicant.id,
                    concern: "Miete und Strom nicht mehr bezahlbar".into(),
                    request_id: request_id(),
                    ..Default::default()
                },
                &self.desk,
            )),
        )
        .await?
        .visit?;
        recorder.acknowledged("visit", &visit.id);
        timed(
            recorder,
            "intake RecordAccessCheck",
            Instant::now(),
            intake.record_access_check(with(continue_check(&visit.id), &self.desk)),
        )
        .await?;
        let consultation = timed(
            recorder,
            "intake StartConsultation",
            Instant::now(),
            intake.start_consultation(idempotent(
                pb::StartConsultationRequest {
                    visit_id: visit.id,
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?
        .consultation?;
        timed(
            recorder,
            "intake CompleteConsultation",
            Instant::now(),
            intake.complete_consultation(with(complete(&consultation.id), advisor)),
        )
        .await?;
        let opened = timed(
            recorder,
            "intake OpenCase",
            Instant::now(),
            intake.open_case(idempotent(
                pb::OpenCaseRequest {
                    consultation_id: consultation.id,
                    assignment: pb::AdvisorAssignment::ConsultingAdvisor.into(),
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?;
        if let Some(opening) = &opened.case_opening {
            recorder.acknowledged("case", &opening.case_id);
        }
        if self.case_plan.is_empty() {
            return None;
        }
        // From OpenCase's answer until case-plan answers the case (it waits for its copy of
        // intake's feed to reach the event's position).
        let mut plans = caseplan::case_plan_service_client::CasePlanServiceClient::new(pick(
            &self.case_plan,
            i,
        ));
        let case = timed(
            recorder,
            "intake → case-plan: case readable",
            Instant::now(),
            plans.get_case(with(
                caseplan::GetCaseRequest {
                    case_id: opened.case_opening?.case_id,
                    min_intake_position: opened.feed_position,
                },
                advisor,
            )),
        )
        .await?
        .case?;
        Some(Opened {
            advisor: advisor_index,
            case,
        })
    }
}

/// The `i`-th new person: a single parent of a three-year-old.
pub(super) fn person(i: u64) -> pb::Applicant {
    let n = i32::try_from(i % 10_000).unwrap_or_default();
    pb::Applicant {
        family_name: format!("Lasttest{i}"),
        given_name: "Mira".into(),
        birth_date: Some(Date {
            year: 1950 + n % 50,
            month: 1 + n % 12,
            day: 1 + n % 28,
        }),
        household: Some(pb::Household {
            single_parent: true,
            children_ages: vec![3],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An access check that finds no priority claim and continues.
fn continue_check(visit_id: &str) -> pb::RecordAccessCheckRequest {
    pb::RecordAccessCheckRequest {
        visit_id: visit_id.into(),
        access_check: Some(pb::AccessCheck {
            claims: vec![pb::ClaimCheck {
                claim: pb::PriorityClaim::UnemploymentBenefit.into(),
                outcome: pb::ClaimOutcome::None.into(),
                note: String::new(),
            }],
            decision: pb::AccessDecision::Continue.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// A first consultation's outcome.
fn complete(consultation_id: &str) -> pb::CompleteConsultationRequest {
    pb::CompleteConsultationRequest {
        consultation_id: consultation_id.into(),
        outcome: Some(pb::ConsultationOutcome {
            first_steps: vec!["Kita-Platz beantragen".into()],
            capacity_to_work: types::CapacityToWork::Full.into(),
            capacity_basis: types::CapacityBasis::SelfReport.into(),
            activation_track: types::ActivationTrack::WithSupport.into(),
            barriers: vec![types::Barrier::Childcare.into()],
            ..Default::default()
        }),
        request_id: String::new(),
    }
}
