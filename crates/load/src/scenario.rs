//! The scenarios (`--scenario`):
//! - `arrival`: a new person comes to the front desk, is registered, checked, consulted the
//!   same day and gets a case with a responsible advisor; with case-plan's address, the case is
//!   then read there. Every iteration is a new person.
//! - `register-visit`: intake's main write alone, a visit of one of a few hundred people the
//!   run registered first (compare it with pgbench running its statements: `make bench`).
//! - `list-teams`: intake's `ListTeams`, the cheapest authenticated read.
//! - `health`: `grpc.health.v1.Health/Check` on intake, the server's own gRPC ceiling.
//!
//! The run sets up a team of its own with `--advisors` advisors, so runs never meet each
//! other's data.

use std::{future::Future, time::Duration};

use fallwerk_devkey::{DevKey, TokenSpec};
use fallwerk_platform::{
    auth::Role,
    client::{self, ClientTls},
};
use fallwerk_proto::{caseplan, google::r#type::Date, intake as pb, types};
use tokio::time::Instant;
use tonic::{Request, Response, Status, metadata::MetadataValue, transport::Channel};

use crate::{Config, LoadError, report::Recorder};

/// Connections the run spreads its calls over, per service.
const CONNECTIONS: usize = 4;

/// A bearer token ready for the metadata.
type Bearer = MetadataValue<tonic::metadata::Ascii>;

/// What each iteration does.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Registration to a case readable in case-plan, a new person each time.
    Arrival,
    /// RegisterVisit alone.
    RegisterVisit,
    /// ListTeams alone: an authenticated read without personal data, so what it costs beyond
    /// Health/Check is the token's check and the service's request path.
    ListTeams,
    /// Health/Check alone (no token, no database).
    Health,
}

/// People `register-visit` registers up front and then sends again and again.
const REGULARS: u64 = 256;

/// A scenario, set up for one run.
pub struct Scenario {
    kind: Kind,
    intake: Vec<Channel>,
    case_plan: Option<Vec<Channel>>,
    desk: Bearer,
    advisors: Vec<Bearer>,
    regulars: Vec<String>,
}

fn channels(addr: &str, tls: &ClientTls, flag: &str) -> Result<Vec<Channel>, LoadError> {
    let uri = addr
        .parse()
        .map_err(|e| LoadError::Config(format!("{flag} {addr:?}: {e}")))?;
    (0..CONNECTIONS)
        .map(|_| client::channel(Clone::clone(&uri), tls).map_err(LoadError::Config))
        .collect()
}

fn bearer(
    key: &DevKey,
    subject: &str,
    role: Role,
    team: Option<uuid::Uuid>,
) -> Result<Bearer, LoadError> {
    let token = key.mint(&TokenSpec {
        subject: subject.to_owned(),
        roles: vec![role],
        team_id: team,
        partner_id: None,
        ttl: Duration::from_secs(24 * 3600),
    });
    format!("Bearer {token}")
        .parse()
        .map_err(|_| LoadError::Config("the minted token is no header value".into()))
}

fn with<T>(message: T, token: &Bearer) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", token.clone());
    request
}

/// Awaits `call`, records it under `step` timed from `since`; its answer if OK.
async fn timed<T>(
    recorder: &Recorder,
    step: &'static str,
    since: Instant,
    call: impl Future<Output = Result<Response<T>, Status>>,
) -> Option<T> {
    match call.await {
        Ok(answer) => {
            recorder.ok(step, since.elapsed());
            Some(answer.into_inner())
        }
        Err(status) => {
            recorder.error(step, status.code());
            None
        }
    }
}

impl Scenario {
    /// Reads the key, connects, and creates the run's team and advisors at intake (and the
    /// people `register-visit` sends).
    pub async fn set_up(config: &Config) -> Result<Self, LoadError> {
        let key = DevKey::load(&config.key_dir).map_err(|e| {
            LoadError::Config(format!(
                "no development key in {} ({e}; `make run` makes one, or `fallwerk dev-key --dir`)",
                config.key_dir.display()
            ))
        })?;
        let ca = config
            .ca_file
            .as_ref()
            .map(|path| std::fs::read(path).map(tonic::transport::Certificate::from_pem))
            .transpose()
            .map_err(|e| LoadError::Config(format!("--ca-file: {e}")))?;
        let tls = ClientTls { ca, identity: None };
        let intake = channels(&config.intake, &tls, "--intake")?;
        let case_plan = config
            .case_plan
            .as_deref()
            .map(|addr| channels(addr, &tls, "--case-plan"))
            .transpose()?;

        let run = uuid::Uuid::now_v7().simple().to_string();
        let admin = bearer(&key, "load-admin", Role::Admin, None)?;
        let mut roster = pb::intake_service_client::IntakeServiceClient::new(intake[0].clone());
        let team = roster
            .create_team(with(
                pb::CreateTeamRequest {
                    team: Some(pb::Team {
                        display_name: format!("Last {run}"),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &admin,
            ))
            .await
            .map_err(LoadError::Setup)?
            .into_inner()
            .team
            .map(|t| t.id)
            .unwrap_or_default();
        let team: uuid::Uuid = team
            .parse()
            .map_err(|_| LoadError::Config("intake answered a team without an id".into()))?;
        let mut advisors = Vec::new();
        for n in 0..config.advisors {
            let subject = format!("load-{run}-advisor-{n}");
            roster
                .create_advisor(with(
                    pb::CreateAdvisorRequest {
                        advisor: Some(pb::Advisor {
                            team_id: team.to_string(),
                            subject: subject.clone(),
                            display_name: format!("Lastberaterin {n}"),
                            function: pb::AdvisorFunction::SocialWork.into(),
                            capacity: 500,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &admin,
                ))
                .await
                .map_err(LoadError::Setup)?;
            advisors.push(bearer(&key, &subject, Role::Advisor, Some(team))?);
        }
        let desk = bearer(
            &key,
            &format!("load-{run}-desk"),
            Role::FrontDesk,
            Some(team),
        )?;
        let mut regulars = Vec::new();
        if config.scenario == Kind::RegisterVisit {
            for i in 0..REGULARS {
                let applicant = roster
                    .create_applicant(with(
                        pb::CreateApplicantRequest {
                            applicant: Some(person(i)),
                            allow_duplicate: true,
                            request_id: String::new(),
                        },
                        &desk,
                    ))
                    .await
                    .map_err(LoadError::Setup)?
                    .into_inner()
                    .applicant
                    .map(|a| a.id)
                    .unwrap_or_default();
                regulars.push(applicant);
            }
        }
        Ok(Scenario {
            kind: config.scenario,
            intake,
            case_plan,
            desk,
            advisors,
            regulars,
        })
    }

    /// The `i`-th iteration, its first call timed from `intended`.
    pub async fn iteration(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let channel = self.intake[i as usize % self.intake.len()].clone();
        match self.kind {
            Kind::Arrival => self.arrival(i, intended, recorder).await,
            Kind::RegisterVisit => {
                let mut intake = pb::intake_service_client::IntakeServiceClient::new(channel);
                let applicant = &self.regulars[i as usize % self.regulars.len()];
                let visit = pb::RegisterVisitRequest {
                    applicant_id: applicant.clone(),
                    concern: "Miete und Strom nicht mehr bezahlbar".into(),
                    request_id: uuid::Uuid::now_v7().to_string(),
                    ..Default::default()
                };
                let call = intake.register_visit(with(visit, &self.desk));
                timed(recorder, "intake RegisterVisit", intended, call).await;
            }
            Kind::ListTeams => {
                let mut intake = pb::intake_service_client::IntakeServiceClient::new(channel);
                let call = intake.list_teams(with(pb::ListTeamsRequest::default(), &self.desk));
                timed(recorder, "intake ListTeams", intended, call).await;
            }
            Kind::Health => {
                let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
                let call = health.check(tonic_health::pb::HealthCheckRequest::default());
                timed(recorder, "intake Health/Check", intended, call).await;
            }
        }
    }

    /// The `i`-th person's way. A failed step ends the iteration (the next ones need its
    /// answer).
    async fn arrival(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let channel = self.intake[i as usize % self.intake.len()].clone();
        let mut intake = pb::intake_service_client::IntakeServiceClient::new(channel);
        let advisor = &self.advisors[i as usize % self.advisors.len()];
        let request_id = || uuid::Uuid::now_v7().to_string();

        let Some(applicant) = timed(
            recorder,
            "intake CreateApplicant",
            intended,
            intake.create_applicant(with(
                pb::CreateApplicantRequest {
                    applicant: Some(person(i)),
                    allow_duplicate: true,
                    request_id: request_id(),
                },
                &self.desk,
            )),
        )
        .await
        .and_then(|a| a.applicant) else {
            return;
        };
        let Some(visit) = timed(
            recorder,
            "intake RegisterVisit",
            Instant::now(),
            intake.register_visit(with(
                pb::RegisterVisitRequest {
                    applicant_id: applicant.id,
                    concern: "Miete und Strom nicht mehr bezahlbar".into(),
                    request_id: request_id(),
                    ..Default::default()
                },
                &self.desk,
            )),
        )
        .await
        .and_then(|v| v.visit) else {
            return;
        };
        if timed(
            recorder,
            "intake RecordAccessCheck",
            Instant::now(),
            intake.record_access_check(with(continue_check(&visit.id), &self.desk)),
        )
        .await
        .is_none()
        {
            return;
        }
        let Some(consultation) = timed(
            recorder,
            "intake StartConsultation",
            Instant::now(),
            intake.start_consultation(with(
                pb::StartConsultationRequest {
                    visit_id: visit.id,
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await
        .and_then(|c| c.consultation) else {
            return;
        };
        if timed(
            recorder,
            "intake CompleteConsultation",
            Instant::now(),
            intake.complete_consultation(with(complete(&consultation.id), advisor)),
        )
        .await
        .is_none()
        {
            return;
        }
        let Some(opened) = timed(
            recorder,
            "intake OpenCase",
            Instant::now(),
            intake.open_case(with(
                pb::OpenCaseRequest {
                    consultation_id: consultation.id,
                    assignment: pb::AdvisorAssignment::ConsultingAdvisor.into(),
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await
        else {
            return;
        };
        let (Some(case_plan), Some(opening)) = (&self.case_plan, opened.case_opening) else {
            return;
        };
        // From OpenCase's answer until case-plan answers the case (it waits for its copy of
        // intake's feed to reach the event's position).
        let channel = case_plan[i as usize % case_plan.len()].clone();
        let mut plans = caseplan::case_plan_service_client::CasePlanServiceClient::new(channel);
        timed(
            recorder,
            "intake → case-plan: case readable",
            Instant::now(),
            plans.get_case(with(
                caseplan::GetCaseRequest {
                    case_id: opening.case_id,
                    min_intake_position: opened.feed_position,
                },
                advisor,
            )),
        )
        .await;
    }
}

/// The `i`-th new person: a single parent of a three-year-old.
fn person(i: u64) -> pb::Applicant {
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
