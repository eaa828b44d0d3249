//! case-plan through real gRPC against a real PostgreSQL, wired to a real intake by their
//! event feeds over loopback: every case here was opened at intake.

mod access;
mod feeds;
mod flow;
mod rules;
mod validation;

use std::time::Duration;

use fallwerk_proto::{caseplan as pb, google::r#type::Date, intake};
use fallwerk_tests::{CasePlanClient, ServiceApp, office::Office, spawn_wired};

/// intake with its roster (see [`Office`]) and case-plan, each consuming the other's feed.
pub(crate) struct World {
    pub(crate) office: Office,
    pub(crate) case_plan: ServiceApp,
}

impl World {
    pub(crate) async fn open() -> World {
        let mut apps =
            spawn_wired(&[&fallwerk_intake::SERVICE, &fallwerk_case_plan::SERVICE]).await;
        let case_plan = apps.pop().expect("case-plan");
        let intake = apps.pop().expect("intake");
        World {
            office: Office::open_on(intake).await,
            case_plan,
        }
    }

    pub(crate) async fn plans(&self, token: &str) -> CasePlanClient {
        self.case_plan.client(token).await
    }

    /// Opens a case at intake for a new walk-in consulted by `advisor` of `desk`'s team and
    /// waits until case-plan has it.
    pub(crate) async fn case(&self, desk: &str, advisor: &str) -> pb::Case {
        let opening = self.open_case(desk, advisor).await;
        self.arrived(advisor, &opening.case_id).await
    }

    /// Opens a case at intake (case-plan learns of it from the feed).
    pub(crate) async fn open_case(&self, desk: &str, advisor: &str) -> intake::CaseOpening {
        let consultation = self.office.completed_consultation(desk, advisor).await;
        self.office
            .client(advisor)
            .await
            .open_case(intake::OpenCaseRequest {
                consultation_id: consultation.id,
                assignment: intake::AdvisorAssignment::ConsultingAdvisor.into(),
                request_id: String::new(),
            })
            .await
            .expect("case opened")
            .into_inner()
            .case_opening
            .expect("case opening")
    }

    /// The case as case-plan shows it to `token`, once it has arrived (at most 30 s).
    pub(crate) async fn arrived(&self, token: &str, case_id: &str) -> pb::Case {
        let mut client = self.plans(token).await;
        for _ in 0..300 {
            match client
                .get_case(pb::GetCaseRequest {
                    case_id: case_id.into(),
                })
                .await
            {
                Ok(response) => return response.into_inner().case.expect("case"),
                Err(status) if status.code() == tonic::Code::NotFound => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(status) => panic!("GetCase failed: {status:?}"),
            }
        }
        panic!("case {case_id} did not reach case-plan within 30 s");
    }
}

pub(crate) fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// A goal with its steps, as sent for a new plan.
pub(crate) fn goal(category: pb::GoalCategory, words: &str, steps: Vec<pb::Step>) -> pb::Goal {
    pb::Goal {
        category: category.into(),
        own_words: words.into(),
        steps,
        ..Default::default()
    }
}

/// A step done by `owner`, due on `due`.
pub(crate) fn step(action: &str, owner: pb::StepOwner, due: Option<Date>) -> pb::Step {
    pb::Step {
        action: action.into(),
        owner: owner.into(),
        due_date: due,
        ..Default::default()
    }
}

/// The first plan of the seed's single mother: childcare first, then work.
pub(crate) fn first_plan(case_id: &str) -> pb::ReviseHelpPlanRequest {
    pb::ReviseHelpPlanRequest {
        case_id: case_id.into(),
        goals: vec![
            goal(
                pb::GoalCategory::Childcare,
                "Einen Kita-Platz für meine Tochter finden",
                vec![step(
                    "Kita-Gutschein beim Jugendamt beantragen",
                    pb::StepOwner::Client,
                    date(2027, 1, 15),
                )],
            ),
            goal(
                pb::GoalCategory::Work,
                "Wieder in der Pflege arbeiten, erst in Teilzeit",
                vec![
                    step(
                        "Lebenslauf aktualisieren",
                        pb::StepOwner::Client,
                        date(2027, 1, 31),
                    ),
                    step(
                        "Stellenangebote Pflege schicken",
                        pb::StepOwner::Office,
                        None,
                    ),
                ],
            ),
        ],
        cause: pb::RevisionCause::FirstPlan.into(),
        etag: "0".into(),
        request_id: String::new(),
    }
}
