//! What a run makes before its first iteration: its own team and advisors at intake, with
//! partner's address its own agency and offer, and for the reads a few cases that went the
//! whole way to an accepted referral.

use std::{sync::Arc, time::Duration};

use fallwerk_devkey::{DevKey, TokenSpec};
use fallwerk_platform::{
    auth::Role,
    client::{self, ClientTls},
};
use fallwerk_proto::{intake as pb, partner, types};
use tonic::transport::Channel;

use super::{Bearer, Kind, Scenario, stream::Delivered, tokens::TokenFiles, with};
use crate::{Config, LoadError, report::Recorder};

/// Connections the run spreads its calls over, per service.
const CONNECTIONS: usize = 4;

/// People `register-visit` registers up front and then sends again and again.
const REGULARS: u64 = 256;

/// The run's partner agency: one offer, the agency system's token, and what its change stream
/// has delivered.
pub(super) struct Agency {
    pub(super) partner_id: String,
    pub(super) offer_id: String,
    pub(super) token: Bearer,
    pub(super) delivered: Arc<Delivered>,
}

/// A case made up front: its advisor (index into the run's advisors) and its accepted
/// referral.
pub(super) struct Seeded {
    pub(super) advisor: usize,
    pub(super) case_id: String,
    pub(super) referral_id: String,
}

fn channels(addr: &str, tls: &ClientTls, flag: &str) -> Result<Vec<Channel>, LoadError> {
    let uri = addr
        .parse()
        .map_err(|e| LoadError::Config(format!("{flag} {addr:?}: {e}")))?;
    (0..CONNECTIONS)
        .map(|_| client::channel(Clone::clone(&uri), tls).map_err(LoadError::Config))
        .collect()
}

fn bearer(key: &DevKey, spec: TokenSpec) -> Result<Bearer, LoadError> {
    format!("Bearer {}", key.mint(&spec))
        .parse()
        .map_err(|_| LoadError::Config("the minted token is no header value".into()))
}

fn staff(subject: &str, role: Role, team: Option<uuid::Uuid>) -> TokenSpec {
    TokenSpec {
        subject: subject.to_owned(),
        roles: vec![role],
        team_id: team,
        partner_id: None,
        ttl: Duration::from_secs(24 * 3600),
    }
}

/// Where the run's tokens come from.
enum Issuer {
    /// Minted from the development key.
    Key(DevKey),
    /// Read from `--token-dir`.
    Files(TokenFiles),
}

/// Reads the key or the tokens, connects, and makes the run's own data.
pub async fn set_up(config: &Config) -> Result<Scenario, LoadError> {
    let issuer = match &config.token_dir {
        Some(dir) => Issuer::Files(TokenFiles::read(dir)?),
        None => Issuer::Key(DevKey::load(&config.key_dir).map_err(|e| {
            LoadError::Config(format!(
                "no development key in {} ({e}; `make run` makes one, or `fallwerk dev-key --dir`; \
                 or tokens with --token-dir)",
                config.key_dir.display()
            ))
        })?),
    };
    let ca = config
        .ca_file
        .as_ref()
        .map(|path| std::fs::read(path).map(tonic::transport::Certificate::from_pem))
        .transpose()
        .map_err(|e| LoadError::Config(format!("--ca-file: {e}")))?;
    let tls = ClientTls { ca, identity: None };
    let needs = config.scenario.needs_cooperation();
    let optional = |addr: &Option<String>, flag: &str| -> Result<Vec<Channel>, LoadError> {
        match addr {
            Some(addr) => channels(addr, &tls, flag),
            None if needs => Err(LoadError::Config(format!(
                "--scenario {:?} needs {flag}",
                config.scenario
            ))),
            None => Ok(Vec::new()),
        }
    };
    let intake = channels(&config.intake, &tls, "--intake")?;
    let case_plan = optional(&config.case_plan, "--case-plan")?;
    let partner = optional(&config.partner, "--partner")?;

    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut roster = pb::intake_service_client::IntakeServiceClient::new(intake[0].clone());
    // Health/Check needs no one (and may be aimed at any service's address).
    let health = config.scenario == Kind::Health;
    let (admin, desk, advisors) = match &issuer {
        Issuer::Key(key) => {
            let admin = bearer(key, staff("load-admin", Role::Admin, None))?;
            let (team, advisors) = if health {
                (uuid::Uuid::nil(), Vec::new())
            } else {
                team_of_advisors(&mut roster, key, &admin, &run, config.advisors).await?
            };
            let desk = staff(&format!("load-{run}-desk"), Role::FrontDesk, Some(team));
            (admin, bearer(key, desk)?, advisors)
        }
        Issuer::Files(files) => {
            if !health {
                enrol(&mut roster, &files.admin, files).await?;
            }
            let advisors = files.advisors.iter().map(|(t, _)| t.clone()).collect();
            (files.admin.clone(), files.desk.clone(), advisors)
        }
    };
    let mut regulars = Vec::new();
    if config.scenario == Kind::RegisterVisit {
        for i in 0..REGULARS {
            let applicant = roster
                .create_applicant(with(
                    pb::CreateApplicantRequest {
                        applicant: Some(super::arrival::person(i)),
                        allow_duplicate: true,
                        request_id: String::new(),
                    },
                    &desk,
                ))
                .await
                .map_err(LoadError::Setup)?
                .into_inner()
                .applicant
                .map(|a| a.id);
            regulars.push(id_in("applicant", applicant)?);
        }
    }
    let agency = match (partner.first(), &issuer) {
        (Some(channel), Issuer::Key(key)) => {
            let partner_id = new_partner(&admin, channel.clone()).await?;
            let token = bearer(
                key,
                TokenSpec {
                    subject: "load-agency-system".into(),
                    roles: vec![Role::Partner],
                    team_id: None,
                    partner_id: Some(partner_id.clone()),
                    ttl: Duration::from_secs(24 * 3600),
                },
            )?;
            Some(agency(&admin, channel.clone(), partner_id, token).await?)
        }
        (Some(channel), Issuer::Files(files)) => {
            let (token, partner_id) = files.partner.clone().ok_or_else(|| {
                LoadError::Config("--partner with --token-dir needs its file `partner`".into())
            })?;
            Some(agency(&admin, channel.clone(), partner_id, token).await?)
        }
        (None, _) => None,
    };
    let mut scenario = Scenario {
        kind: config.scenario,
        mix: config.mix.clone(),
        intake,
        case_plan,
        partner,
        desk,
        advisors,
        regulars,
        agency,
        seeded: Vec::new(),
    };
    if matches!(
        config.scenario,
        Kind::AdvisorReads | Kind::Agency | Kind::Mix | Kind::GetCase
    ) {
        scenario.seeded = seed(&scenario, config.seed_cases).await?;
    }
    Ok(scenario)
}

/// The run's own team with `count` advisors of 500 cases each, and their tokens.
async fn team_of_advisors(
    roster: &mut pb::intake_service_client::IntakeServiceClient<Channel>,
    key: &DevKey,
    admin: &Bearer,
    run: &str,
    count: u32,
) -> Result<(uuid::Uuid, Vec<Bearer>), LoadError> {
    let team = roster
        .create_team(with(
            pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name: format!("Last {run}"),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .map_err(LoadError::Setup)?
        .into_inner()
        .team
        .map(|t| t.id);
    let team: uuid::Uuid = id_in("team", team)?
        .parse()
        .map_err(|_| LoadError::Config("the created team's id is no UUID".into()))?;
    let mut advisors = Vec::new();
    for n in 0..count {
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
                admin,
            ))
            .await
            .map_err(LoadError::Setup)?;
        advisors.push(bearer(key, staff(&subject, Role::Advisor, Some(team)))?);
    }
    Ok((team, advisors))
}

/// The id of a `what` the run created, or why the run cannot go on without it.
fn id_in(what: &str, id: Option<String>) -> Result<String, LoadError> {
    id.filter(|id| !id.is_empty()).ok_or_else(|| {
        LoadError::Config(format!("the service answered a new {what} without an id"))
    })
}

/// A partner agency for the run; its id.
async fn new_partner(admin: &Bearer, channel: Channel) -> Result<String, LoadError> {
    let mut partners = partner::partner_service_client::PartnerServiceClient::new(channel);
    let partner = partners
        .create_partner(with(
            partner::CreatePartnerRequest {
                partner: Some(partner::Partner {
                    kind: partner::PartnerKind::WelfareAssociation.into(),
                    display_name: "Kita-Lotsen (Last)".into(),
                    contact: "last@kita-lotsen.example".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .map_err(LoadError::Setup)?
        .into_inner()
        .partner
        .map(|p| p.id);
    id_in("partner", partner)
}

/// The run's agency: a childcare offer of its own for `partner_id`, and its system's change
/// stream followed with `token`.
async fn agency(
    admin: &Bearer,
    channel: Channel,
    partner_id: String,
    token: Bearer,
) -> Result<Agency, LoadError> {
    let mut partners = partner::partner_service_client::PartnerServiceClient::new(channel.clone());
    let offer_id = partners
        .create_offer(with(
            partner::CreateOfferRequest {
                offer: Some(partner::Offer {
                    partner_id: partner_id.clone(),
                    category: partner::OfferCategory::Childcare.into(),
                    title: "Kita-Lotsen: Platzsuche".into(),
                    places: 10_000,
                    eligibility: "Eltern mit Kindern unter 6".into(),
                    location: "Nordstadt".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            admin,
        ))
        .await
        .map_err(LoadError::Setup)?
        .into_inner()
        .offer
        .map(|o| o.id);
    let offer_id = id_in("offer", offer_id)?;
    let delivered = Delivered::follow(channel, token.clone());
    Ok(Agency {
        partner_id,
        offer_id,
        token,
        delivered,
    })
}

/// Puts the advisors of the token files into the roster of their team (500 cases each),
/// unless they are there already.
async fn enrol(
    roster: &mut pb::intake_service_client::IntakeServiceClient<Channel>,
    admin: &Bearer,
    files: &TokenFiles,
) -> Result<(), LoadError> {
    for (n, (_, subject)) in files.advisors.iter().enumerate() {
        let enrolled = roster
            .create_advisor(with(
                pb::CreateAdvisorRequest {
                    advisor: Some(pb::Advisor {
                        team_id: files.team.to_string(),
                        subject: subject.clone(),
                        display_name: format!("Lastberaterin {n}"),
                        function: pb::AdvisorFunction::SocialWork.into(),
                        capacity: 500,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                admin,
            ))
            .await;
        match enrolled {
            Ok(_) => {}
            Err(status) if already_in_roster(&status) => {}
            Err(status) => return Err(LoadError::Setup(status)),
        }
    }
    Ok(())
}

fn already_in_roster(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    status.code() == tonic::Code::AlreadyExists
        || status
            .get_details_error_info()
            .is_some_and(|info| info.reason == "SUBJECT_IN_ROSTER")
}

/// `count` cases taken through the process to an accepted referral, spread over the
/// advisors. Their calls are not part of the report.
async fn seed(scenario: &Scenario, count: u32) -> Result<Vec<Seeded>, LoadError> {
    let quiet = Recorder::default();
    let mut seeded = Vec::new();
    for i in 0..u64::from(count) {
        let referred = scenario
            .until_accepted(i, tokio::time::Instant::now(), &quiet)
            .await;
        match referred {
            Some(r) => seeded.push(Seeded {
                advisor: i as usize % scenario.advisors.len(),
                case_id: r.case_id,
                referral_id: r.referral_id,
            }),
            None => {
                return Err(LoadError::Config(format!(
                    "making the cases for the reads failed: {}",
                    quiet.first_error().unwrap_or_default()
                )));
            }
        }
    }
    Ok(seeded)
}

/// The data categories every referral of the run carries, consented before (notes, so that
/// the partner's progress reports may carry one).
pub(super) const CATEGORIES: [types::DataCategory; 3] = [
    types::DataCategory::Household,
    types::DataCategory::PlanSteps,
    types::DataCategory::Notes,
];
