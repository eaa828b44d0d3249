//! intake with a roster, and the steps of the first day through its gRPC API: what every test
//! that needs a person, a visit, a consultation or a case starts from.

use fallwerk_intake::SERVICE;
use fallwerk_platform::auth::Role;
use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use uuid::Uuid;

use crate::{IntakeClient, ServiceApp, token};

/// A running intake with a roster: two teams, each with an advisor, a team lead and a front
/// desk; an admin.
pub struct Office {
    /// The running intake.
    pub app: ServiceApp,
    /// The home team.
    pub team: Uuid,
    /// An admin's token.
    pub admin: String,
    /// The home team's front desk (desk-1).
    pub desk: String,
    /// The home team's social worker (advisor-1, in the roster).
    pub advisor: String,
    /// The home team's job placement officer (advisor-2, in the roster).
    pub second_advisor: String,
    /// The home team's lead (lead-1).
    pub lead: String,
    /// The other team's front desk.
    pub other_desk: String,
    /// The other team's advisor (advisor-9, in the roster).
    pub other_advisor: String,
    /// The other team's lead.
    pub other_lead: String,
}

impl Office {
    /// intake alone with its roster.
    pub async fn open() -> Office {
        Self::open_on(ServiceApp::spawn(&SERVICE).await).await
    }

    /// The roster set up on a running intake.
    pub async fn open_on(app: ServiceApp) -> Office {
        let admin = token("admin-1", &[Role::Admin], None);
        let mut as_admin: IntakeClient = app.client(&admin).await;
        let team = create_team(&mut as_admin, "Aktivierung Nord").await;
        let other_team = create_team(&mut as_admin, "Aktivierung Süd").await;
        for (team, subject, function) in [
            (team, "advisor-1", pb::AdvisorFunction::SocialWork),
            (team, "advisor-2", pb::AdvisorFunction::JobPlacement),
            (other_team, "advisor-9", pb::AdvisorFunction::Administrative),
        ] {
            as_admin
                .create_advisor(pb::CreateAdvisorRequest {
                    advisor: Some(pb::Advisor {
                        team_id: team.to_string(),
                        subject: subject.into(),
                        display_name: format!("Advisor {subject}"),
                        function: function.into(),
                        capacity: 30,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .expect("advisor created");
        }
        Office {
            admin,
            desk: token("desk-1", &[Role::FrontDesk], Some(team)),
            advisor: token("advisor-1", &[Role::Advisor], Some(team)),
            second_advisor: token("advisor-2", &[Role::Advisor], Some(team)),
            lead: token("lead-1", &[Role::TeamLead], Some(team)),
            other_desk: token("desk-9", &[Role::FrontDesk], Some(other_team)),
            other_advisor: token("advisor-9", &[Role::Advisor], Some(other_team)),
            other_lead: token("lead-9", &[Role::TeamLead], Some(other_team)),
            team,
            app,
        }
    }

    /// An intake client presenting `token`.
    pub async fn client(&self, token: &str) -> IntakeClient {
        self.app.client(token).await
    }

    /// Today's waiting queue as the holder of `token` sees it.
    pub async fn queue(&self, token: &str) -> Vec<pb::QueueEntry> {
        self.client(token)
            .await
            .list_waiting_queue(pb::ListWaitingQueueRequest::default())
            .await
            .expect("queue")
            .into_inner()
            .entries
    }

    /// The home team's advisors, as its team lead lists them.
    pub async fn advisors(&self) -> Vec<pb::Advisor> {
        self.client(&self.lead)
            .await
            .list_advisors(pb::ListAdvisorsRequest {
                team_id: self.team.to_string(),
                ..Default::default()
            })
            .await
            .expect("the team's advisors")
            .into_inner()
            .advisors
    }

    /// Registers a person through the front desk of `desk`'s team.
    pub async fn applicant(&self, desk: &str, family: &str) -> String {
        self.client(desk)
            .await
            .create_applicant(pb::CreateApplicantRequest {
                applicant: Some(applicant(family, "Anna", 1990, 5, 1)),
                allow_duplicate: true,
                request_id: String::new(),
            })
            .await
            .expect("applicant created")
            .into_inner()
            .applicant
            .expect("applicant")
            .id
    }

    /// A visit of a new applicant at `desk`'s team.
    pub async fn visit(&self, desk: &str) -> pb::Visit {
        let applicant = self.applicant(desk, "Weber").await;
        self.client(desk)
            .await
            .register_visit(pb::RegisterVisitRequest {
                applicant_id: applicant,
                concern: "Miete nicht bezahlt".into(),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("visit registered")
            .into_inner()
            .visit
            .expect("visit")
    }

    /// A visit whose access check decided to continue.
    pub async fn ready_visit(&self, desk: &str) -> pb::Visit {
        let visit = self.visit(desk).await;
        self.client(desk)
            .await
            .record_access_check(continue_check(&visit.id))
            .await
            .expect("access check recorded")
            .into_inner()
            .visit
            .expect("visit")
    }

    /// A started consultation of a new ready visit, by `advisor`.
    pub async fn consultation(&self, desk: &str, advisor: &str) -> pb::Consultation {
        let visit = self.ready_visit(desk).await;
        self.client(advisor)
            .await
            .start_consultation(pb::StartConsultationRequest {
                visit_id: visit.id,
                request_id: String::new(),
            })
            .await
            .expect("consultation started")
            .into_inner()
            .consultation
            .expect("consultation")
    }

    /// The open cases intake counts for the advisor whose tokens carry `subject`.
    pub async fn open_cases_of(&self, subject: &str) -> i32 {
        self.advisors()
            .await
            .into_iter()
            .find(|a| a.subject == subject)
            .map(|a| a.open_cases)
            .expect("advisor in the roster")
    }

    /// Waits (up to 30 s) until intake counts `expected` open cases for `subject`.
    pub async fn eventually_open_cases_of(&self, subject: &str, expected: i32) {
        for _ in 0..300 {
            if self.open_cases_of(subject).await == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{subject} did not reach {expected} open cases within 30 s");
    }

    /// A completed consultation.
    pub async fn completed_consultation(&self, desk: &str, advisor: &str) -> pb::Consultation {
        let started = self.consultation(desk, advisor).await;
        self.client(advisor)
            .await
            .complete_consultation(complete(&started.id))
            .await
            .expect("consultation completed")
            .into_inner()
            .consultation
            .expect("consultation")
    }
}

/// Creates a team; its id.
pub async fn create_team(client: &mut IntakeClient, name: &str) -> Uuid {
    create_team_with_area(client, name, &[]).await
}

/// Creates a team serving the postal codes starting with `prefixes`; its id.
pub async fn create_team_with_area(
    client: &mut IntakeClient,
    name: &str,
    prefixes: &[&str],
) -> Uuid {
    let team = client
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                display_name: name.into(),
                postal_code_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("team created")
        .into_inner()
        .team
        .expect("team");
    team.id.parse().expect("team id")
}

/// A wire date.
pub fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// The wire form of `d`.
pub fn wire_date(d: chrono::NaiveDate) -> Date {
    use chrono::Datelike;
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// An applicant to create: a single parent of a three-year-old.
pub fn applicant(family: &str, given: &str, year: i32, month: i32, day: i32) -> pb::Applicant {
    pb::Applicant {
        family_name: family.into(),
        given_name: given.into(),
        birth_date: date(year, month, day),
        household: Some(pb::Household {
            single_parent: true,
            children_ages: vec![3],
            ..Default::default()
        }),
        interpreter_language: String::new(),
        ..Default::default()
    }
}

/// An access check that finds no priority claim and continues.
pub fn continue_check(visit_id: &str) -> pb::RecordAccessCheckRequest {
    pb::RecordAccessCheckRequest {
        visit_id: visit_id.into(),
        access_check: Some(pb::AccessCheck {
            claims: vec![
                pb::ClaimCheck {
                    claim: pb::PriorityClaim::UnemploymentBenefit.into(),
                    outcome: pb::ClaimOutcome::None.into(),
                    note: String::new(),
                },
                pb::ClaimCheck {
                    claim: pb::PriorityClaim::ChildBenefit.into(),
                    outcome: pb::ClaimOutcome::Received.into(),
                    note: "Kindergeld läuft".into(),
                },
            ],
            emergency_need: false,
            decision: pb::AccessDecision::Continue.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// The seed's first consultation outcome for `consultation_id`.
pub fn complete(consultation_id: &str) -> pb::CompleteConsultationRequest {
    pb::CompleteConsultationRequest {
        consultation_id: consultation_id.into(),
        outcome: Some(pb::ConsultationOutcome {
            first_steps: vec![
                "Kita-Platz beantragen".into(),
                "Bewerbungsunterlagen mitbringen".into(),
            ],
            self_help_options: vec!["Unterhalt vom Vater einfordern".into()],
            office_offers: vec!["Schuldnerberatung".into()],
            capacity_to_work: types::CapacityToWork::Full.into(),
            capacity_basis: types::CapacityBasis::SelfReport.into(),
            activation_track: types::ActivationTrack::WithSupport.into(),
            barriers: vec![
                types::Barrier::Childcare.into(),
                types::Barrier::Debt.into(),
            ],
            notes: "Alleinerziehend, Kind 3 Jahre.".into(),
        }),
        request_id: String::new(),
    }
}
