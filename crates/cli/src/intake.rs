//! The intake workflow at a terminal: each command is one call of
//! `fallwerk.intake.v1.IntakeService`, in the order of a day at the office: register the
//! person and their visit, check access, consult, open the case.

use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};
use fallwerk_platform::wire::wire_date;
use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::IntakeClient,
    error::CliError,
    output::{Output, human, json},
    parse,
};

/// The intake commands.
#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Activation teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// A team's roster of advisors.
    #[command(subcommand)]
    Advisor(AdvisorCommand),
    /// People seeking help: register, look up, find.
    #[command(subcommand)]
    Applicant(ApplicantCommand),
    /// Arrivals at the office.
    #[command(subcommand)]
    Visit(VisitCommand),
    /// Today's waiting queue of your team: emergencies, then interpreter needs, then longest
    /// waiting first.
    Queue {
        /// The team whose queue to show (a central front desk names it).
        #[arg(long)]
        team: Option<Uuid>,
    },
    /// Records the access check of a waiting visit (front_desk, advisor).
    AccessCheck(AccessCheckArgs),
    /// First consultations (advisor).
    #[command(subcommand)]
    Consult(ConsultCommand),
    /// A team's figures over a range of days (team_lead).
    Figures(FiguresArgs),
}

/// `fallwerk team ...`.
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Creates a team (admin).
    Create {
        /// Display name, unique.
        #[arg(value_name = "DISPLAY_NAME")]
        display_name: String,
        /// The leading digits of postal codes the team serves (its service area); repeat.
        #[arg(long = "serves", value_name = "POSTAL_CODE_PREFIX")]
        serves: Vec<String>,
    },
    /// Renames a team or changes its service area (admin).
    Update {
        /// Team id.
        id: Uuid,
        /// The team's current etag (`team list --json` shows it).
        #[arg(long)]
        etag: String,
        /// The new display name.
        #[arg(long)]
        name: Option<String>,
        /// The leading digits of the postal codes the team serves from now on; repeat.
        #[arg(long = "serves", value_name = "POSTAL_CODE_PREFIX")]
        serves: Vec<String>,
        /// The team serves no postal area any more.
        #[arg(long, conflicts_with = "serves")]
        serves_none: bool,
    },
    /// Lists all teams.
    List,
}

/// `fallwerk advisor ...`.
#[derive(Debug, Subcommand)]
pub enum AdvisorCommand {
    /// Adds an advisor to a team (admin, team_lead of the team).
    Add(AdvisorAddArgs),
    /// Lists a team's advisors with their caseload.
    List {
        /// The team.
        #[arg(long)]
        team: Uuid,
    },
}

/// `fallwerk advisor add`.
#[derive(Debug, Args)]
pub struct AdvisorAddArgs {
    /// The team.
    #[arg(long)]
    team: Uuid,
    /// The advisor's identity: the `sub` of their tokens.
    #[arg(long)]
    subject: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Professional function.
    #[arg(long, value_enum)]
    function: parse::Function,
    /// Most open cases the advisor should carry (1 to 500).
    #[arg(long)]
    capacity: i32,
}

/// `fallwerk applicant ...`.
#[derive(Debug, Subcommand)]
pub enum ApplicantCommand {
    /// Registers a person seeking help; refuses a likely duplicate unless told otherwise.
    Create(Box<ApplicantCreateArgs>),
    /// Shows one applicant.
    Get {
        /// Applicant id.
        id: Uuid,
    },
    /// Finds applicants by name and/or date of birth, to reuse an existing record.
    Search(SearchArgs),
}

/// `fallwerk applicant create`.
#[derive(Debug, Args)]
pub struct ApplicantCreateArgs {
    /// Given name(s) as the person writes them.
    #[arg(long)]
    given: String,
    /// Family name as the person writes it.
    #[arg(long)]
    family: String,
    /// Date of birth: YYYY-MM-DD, or YYYY-MM or YYYY when the identity document leaves day or
    /// month unknown.
    #[arg(long, value_parser = parse::birth_date)]
    birth: Date,
    /// Does the person raise children alone? Alone, the flag means yes; left out: not asked.
    #[arg(long, value_enum, value_name = "yes|no", num_args = 0..=1, default_missing_value = "yes")]
    single_parent: Option<parse::Answer>,
    /// Do children live in the household? Left out: not asked (or yes, with --child-age).
    #[arg(long, value_enum, value_name = "yes|no", num_args = 0..=1, default_missing_value = "yes")]
    children: Option<parse::Answer>,
    /// Age in years of a child in the household; repeat for each child.
    #[arg(long = "child-age", value_name = "YEARS")]
    child_ages: Vec<u32>,
    /// Does a spouse or partner live in the household? Left out: not asked.
    #[arg(long, value_enum, value_name = "yes|no", num_args = 0..=1, default_missing_value = "yes")]
    partner: Option<parse::Answer>,
    /// Another applicant living in the same household; repeat for each.
    #[arg(long, value_name = "APPLICANT_ID")]
    household_member: Vec<Uuid>,
    /// Where the person lives and how to reach them.
    #[command(flatten)]
    contact: ContactArgs,
    /// The identity was checked with a document of this kind (its number is never recorded).
    #[arg(long, value_enum, value_name = "DOCUMENT")]
    identity_checked: Option<parse::Document>,
    /// Residence status, as far as entitlement needs it.
    #[arg(long, value_enum, value_name = "STATUS")]
    residence: Option<parse::Status>,
    /// Language the person needs an interpreter for (BCP 47, e.g. ar, uk).
    #[arg(long, value_name = "BCP47")]
    interpreter: Option<String>,
    /// Register even though records with this name and birth date exist (checked them).
    #[arg(long)]
    allow_duplicate: bool,
    /// Idempotency key: repeating the command with the same id registers the person once.
    #[arg(long)]
    request_id: Option<Uuid>,
}

/// Address and contact of `fallwerk applicant create`; all left out: not recorded yet.
#[derive(Debug, Args)]
pub struct ContactArgs {
    /// Street and house number of the home address.
    #[arg(long, requires_all = ["postal_code", "city"])]
    street: Option<String>,
    /// Postal code (five digits) of the home address, or of the contact address with
    /// --no-fixed-abode.
    #[arg(long)]
    postal_code: Option<String>,
    /// City of the home address, or of the contact address.
    #[arg(long)]
    city: Option<String>,
    /// The person has no fixed abode; --contact-street etc. say where post reaches them
    /// (left out: at the office).
    #[arg(long, conflicts_with = "street")]
    no_fixed_abode: bool,
    /// Street of the contact address of a person without fixed abode.
    #[arg(long, requires_all = ["no_fixed_abode", "postal_code", "city"])]
    contact_street: Option<String>,
    /// Phone number.
    #[arg(long)]
    phone: Option<String>,
    /// E-mail address.
    #[arg(long)]
    email: Option<String>,
    /// How the person wants to be contacted.
    #[arg(long, value_enum)]
    contact_by: Option<parse::Channel>,
}

impl ContactArgs {
    /// The contact to send, or `None` when nothing of it was given.
    fn contact(self) -> Option<types::Contact> {
        let address = |street: String| types::PostalAddress {
            street,
            postal_code: self.postal_code.clone().unwrap_or_default(),
            city: self.city.clone().unwrap_or_default(),
            ..Default::default()
        };
        let given = self.street.is_some()
            || self.no_fixed_abode
            || self.phone.is_some()
            || self.email.is_some()
            || self.contact_by.is_some();
        given.then(|| types::Contact {
            address: self.street.clone().map(address),
            no_fixed_abode: self.no_fixed_abode,
            contact_address: self.contact_street.clone().map(address),
            phone: self.phone.unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            preferred_channel: self
                .contact_by
                .map_or(0, |c| types::ContactChannel::from(c).into()),
        })
    }
}

/// `fallwerk applicant search`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("criteria").args(["family", "given", "birth"]).required(true).multiple(true)))]
pub struct SearchArgs {
    /// Family name starts with this (case, spacing and umlaut spelling ignored).
    #[arg(long)]
    family: Option<String>,
    /// Given name starts with this.
    #[arg(long)]
    given: Option<String>,
    /// Date of birth: YYYY-MM-DD, or YYYY-MM / YYYY (matches every date it allows).
    #[arg(long, value_parser = parse::birth_date)]
    birth: Option<Date>,
    #[command(flatten)]
    page: PageArgs,
}

/// Paging of a list.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// At most this many results (1 to 200; default 50).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=200))]
    pub page_size: Option<i32>,
    /// The token a previous page ended with.
    #[arg(long)]
    pub page_token: Option<String>,
}

/// `fallwerk visit ...`.
#[derive(Debug, Subcommand)]
pub enum VisitCommand {
    /// Registers an applicant's arrival with your team (front_desk, advisor).
    Register {
        /// The applicant who arrived.
        applicant_id: Uuid,
        /// What the person came for, in a few words.
        #[arg(long)]
        concern: Option<String>,
        /// How the person came.
        #[arg(long, value_enum, default_value = "walk-in")]
        kind: parse::VisitKind,
        /// The team's queue to join (a central front desk names it; a team's desk may leave it
        /// out).
        #[arg(long)]
        team: Option<Uuid>,
    },
    /// Shows one visit with its access check.
    Get {
        /// Visit id.
        id: Uuid,
    },
    /// Lists one applicant's visits at your team, newest first.
    List {
        /// The applicant.
        applicant_id: Uuid,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Ends a waiting visit without a consultation (front_desk, advisor).
    End {
        /// Visit id.
        id: Uuid,
        /// Why.
        #[arg(long, value_enum)]
        reason: parse::EndReason,
        /// Where the person was sent (required for not-locally-responsible), or a remark.
        #[arg(long)]
        note: Option<String>,
    },
}

/// `fallwerk access-check`.
#[derive(Debug, Args)]
pub struct AccessCheckArgs {
    /// The waiting visit.
    visit_id: Uuid,
    /// The decision.
    #[arg(long, value_enum)]
    decision: parse::Decision,
    /// A priority claim checked and what was found; repeat for each claim.
    ///
    /// Claims: unemployment-benefit, job-center, housing-benefit, child-benefit, maintenance,
    /// own-income, own-assets. Outcomes: none, received, to-be-applied, unclear.
    #[arg(long = "claim", value_name = "CLAIM=OUTCOME", value_parser = parse::claim_check)]
    claims: Vec<parse::ClaimCheck>,
    /// There is an emergency need today; the note says what it is.
    #[arg(long, value_name = "NOTE")]
    emergency: Option<String>,
    /// With --decision not-locally-responsible: the office or authority the application is
    /// forwarded to.
    #[arg(long, value_name = "AUTHORITY")]
    forwarded_to: Option<String>,
}

/// `fallwerk consult ...`.
#[derive(Debug, Subcommand)]
pub enum ConsultCommand {
    /// Starts the first consultation of a visit ready for it.
    Start {
        /// The visit.
        visit_id: Uuid,
    },
    /// Completes a consultation with what was agreed.
    Complete(CompleteArgs),
    /// Shows a consultation with its content (advisor, team_lead).
    Get {
        /// Consultation id.
        id: Uuid,
    },
}

/// `fallwerk consult complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The consultation.
    consultation_id: Uuid,
    /// A first step agreed; repeat for each.
    #[arg(long = "step", value_name = "TEXT", required = true)]
    steps: Vec<String>,
    /// A self-help option discussed; repeat for each.
    #[arg(long = "self-help", value_name = "TEXT")]
    self_help: Vec<String>,
    /// An office offer discussed; repeat for each.
    #[arg(long = "offer", value_name = "TEXT")]
    offers: Vec<String>,
    /// Assessed capacity to work.
    #[arg(long, value_enum)]
    capacity: parse::Capacity,
    /// What the capacity rests on; required unless it is not-yet-determined.
    #[arg(long = "capacity-basis", value_enum)]
    capacity_basis: Option<parse::Basis>,
    /// Activation track; job-placement needs capacity full or partial.
    #[arg(long, value_enum)]
    track: parse::Track,
    /// A barrier noted; repeat for each.
    #[arg(long = "barrier", value_enum)]
    barriers: Vec<parse::Barrier>,
    /// Free notes.
    #[arg(long)]
    notes: Option<String>,
}

/// `fallwerk case open`; the other `case` commands are case-plan's.
#[derive(Debug, Args)]
pub struct CaseOpenArgs {
    /// The completed consultation.
    consultation_id: Uuid,
    /// Make the active advisor with the fewest open cases responsible, instead of the
    /// consulting advisor.
    #[arg(long)]
    lowest_caseload: bool,
}

/// `fallwerk figures`.
#[derive(Debug, Args)]
pub struct FiguresArgs {
    /// The team.
    #[arg(long)]
    team: Uuid,
    /// First day, YYYY-MM-DD.
    #[arg(long, value_parser = parse::date)]
    from: NaiveDate,
    /// Last day (inclusive), YYYY-MM-DD.
    #[arg(long, value_parser = parse::date)]
    to: NaiveDate,
}

/// Runs one intake command and shows its answer.
pub async fn run(
    command: IntakeCommand,
    mut client: IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let client = &mut client;
    match command {
        IntakeCommand::Team(command) => team(command, client, out).await,
        IntakeCommand::Advisor(command) => advisor(command, client, out).await,
        IntakeCommand::Applicant(command) => applicant(command, client, out).await,
        IntakeCommand::Visit(command) => visit(command, client, out).await,
        IntakeCommand::Queue { team } => {
            let answer = client
                .list_waiting_queue(pb::ListWaitingQueueRequest {
                    team_id: team.map(|t| t.to_string()).unwrap_or_default(),
                })
                .await?
                .into_inner();
            out.show(
                || json!({ "entries": json::list(&answer.entries, json::queue_entry) }),
                || human::queue(&answer.entries),
            )
        }
        IntakeCommand::AccessCheck(args) => access_check(args, client, out).await,
        IntakeCommand::Consult(command) => consult(command, client, out).await,
        IntakeCommand::Figures(args) => figures(args, client, out).await,
    }
}

async fn team(
    command: TeamCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    match command {
        TeamCommand::Create {
            display_name,
            serves,
        } => {
            let request = pb::CreateTeamRequest {
                team: Some(pb::Team {
                    display_name,
                    postal_code_prefixes: serves,
                    ..Default::default()
                }),
                request_id: String::new(),
            };
            let team = present(client.create_team(request).await?.into_inner().team, "team")?;
            out.show(
                || json!({ "team": json::team(&team) }),
                || human::team(&team),
            )
        }
        TeamCommand::Update {
            id,
            etag,
            name,
            serves,
            serves_none,
        } => {
            let mut paths = Vec::new();
            if name.is_some() {
                paths.push("display_name".to_owned());
            }
            if !serves.is_empty() || serves_none {
                paths.push("postal_code_prefixes".to_owned());
            }
            let request = pb::UpdateTeamRequest {
                team: Some(pb::Team {
                    id: id.to_string(),
                    etag,
                    display_name: name.unwrap_or_default(),
                    postal_code_prefixes: serves,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            };
            let team = present(client.update_team(request).await?.into_inner().team, "team")?;
            out.show(
                || json!({ "team": json::team(&team) }),
                || human::team(&team),
            )
        }
        TeamCommand::List => {
            let teams = client
                .list_teams(pb::ListTeamsRequest {})
                .await?
                .into_inner()
                .teams;
            out.show(
                || json!({ "teams": json::list(&teams, json::team) }),
                || human::teams(&teams),
            )
        }
    }
}

async fn advisor(
    command: AdvisorCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    match command {
        AdvisorCommand::Add(args) => {
            let request = pb::CreateAdvisorRequest {
                advisor: Some(pb::Advisor {
                    team_id: args.team.to_string(),
                    subject: args.subject,
                    display_name: args.name,
                    function: pb::AdvisorFunction::from(args.function).into(),
                    capacity: args.capacity,
                    active: true,
                    ..Default::default()
                }),
                request_id: String::new(),
            };
            let advisor = present(
                client.create_advisor(request).await?.into_inner().advisor,
                "advisor",
            )?;
            out.show(
                || json!({ "advisor": json::advisor(&advisor) }),
                || human::advisor(&advisor),
            )
        }
        AdvisorCommand::List { team } => {
            let request = pb::ListAdvisorsRequest {
                team_id: team.to_string(),
            };
            let advisors = client.list_advisors(request).await?.into_inner().advisors;
            out.show(
                || json!({ "advisors": json::list(&advisors, json::advisor) }),
                || human::advisors(&advisors),
            )
        }
    }
}

async fn applicant(
    command: ApplicantCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let applicant = match command {
        ApplicantCommand::Create(args) => {
            let request = pb::CreateApplicantRequest {
                applicant: Some(pb::Applicant {
                    given_name: args.given,
                    family_name: args.family,
                    birth_date: Some(args.birth),
                    household: Some(pb::Household {
                        single_parent_answer: parse::answer(args.single_parent).into(),
                        children_answer: parse::answer(args.children).into(),
                        partner_answer: parse::answer(args.partner).into(),
                        children_ages: args.child_ages,
                        member_applicant_ids: args
                            .household_member
                            .iter()
                            .map(Uuid::to_string)
                            .collect(),
                        ..Default::default()
                    }),
                    contact: args.contact.contact(),
                    identity_check: args.identity_checked.map(|d| pb::IdentityCheck {
                        document: pb::IdentityDocument::from(d).into(),
                        ..Default::default()
                    }),
                    residence_status: args
                        .residence
                        .map_or(0, |r| pb::ResidenceStatus::from(r).into()),
                    interpreter_language: args.interpreter.unwrap_or_default(),
                    ..Default::default()
                }),
                allow_duplicate: args.allow_duplicate,
                request_id: args.request_id.map(|id| id.to_string()).unwrap_or_default(),
            };
            client
                .create_applicant(request)
                .await?
                .into_inner()
                .applicant
        }
        ApplicantCommand::Get { id } => {
            let request = pb::GetApplicantRequest { id: id.to_string() };
            client.get_applicant(request).await?.into_inner().applicant
        }
        ApplicantCommand::Search(args) => {
            let request = pb::SearchApplicantsRequest {
                family_name: args.family.unwrap_or_default(),
                given_name: args.given.unwrap_or_default(),
                birth_date: args.birth,
                page_size: args.page.page_size.unwrap_or_default(),
                page_token: args.page.page_token.unwrap_or_default(),
            };
            let answer = client.search_applicants(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "applicants": json::list(&answer.applicants, json::applicant_summary),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::applicants(&answer.applicants, &answer.next_page_token),
            );
        }
    };
    let applicant = present(applicant, "applicant")?;
    out.show(
        || json!({ "applicant": json::applicant(&applicant) }),
        || human::applicant(&applicant),
    )
}

async fn visit(
    command: VisitCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let visit = match command {
        VisitCommand::Register {
            applicant_id,
            concern,
            kind,
            team,
        } => {
            let request = pb::RegisterVisitRequest {
                applicant_id: applicant_id.to_string(),
                concern: concern.unwrap_or_default(),
                request_id: String::new(),
                kind: pb::VisitKind::from(kind).into(),
                team_id: team.map(|t| t.to_string()).unwrap_or_default(),
            };
            client.register_visit(request).await?.into_inner().visit
        }
        VisitCommand::Get { id } => {
            let request = pb::GetVisitRequest { id: id.to_string() };
            client.get_visit(request).await?.into_inner().visit
        }
        VisitCommand::End { id, reason, note } => {
            let request = pb::EndVisitRequest {
                visit_id: id.to_string(),
                reason: pb::VisitEndReason::from(reason).into(),
                note: note.unwrap_or_default(),
                request_id: String::new(),
            };
            client.end_visit(request).await?.into_inner().visit
        }
        VisitCommand::List { applicant_id, page } => {
            let request = pb::ListVisitsRequest {
                applicant_id: applicant_id.to_string(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
            };
            let answer = client.list_visits(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "visits": json::list(&answer.visits, json::visit),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::visits(&answer.visits, &answer.next_page_token),
            );
        }
    };
    show_visit(present(visit, "visit")?, out)
}

async fn access_check(
    args: AccessCheckArgs,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let request = pb::RecordAccessCheckRequest {
        visit_id: args.visit_id.to_string(),
        access_check: Some(pb::AccessCheck {
            claims: args.claims.into_iter().map(pb::ClaimCheck::from).collect(),
            emergency_need: args.emergency.is_some(),
            emergency_note: args.emergency.unwrap_or_default(),
            decision: pb::AccessDecision::from(args.decision).into(),
            forwarded_to: args.forwarded_to.unwrap_or_default(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let visit = client
        .record_access_check(request)
        .await?
        .into_inner()
        .visit;
    show_visit(present(visit, "visit")?, out)
}

fn show_visit(visit: pb::Visit, out: &Output) -> Result<(), CliError> {
    out.show(
        || json!({ "visit": json::visit(&visit) }),
        || human::visit(&visit),
    )
}

async fn consult(
    command: ConsultCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let consultation = match command {
        ConsultCommand::Start { visit_id } => {
            let request = pb::StartConsultationRequest {
                visit_id: visit_id.to_string(),
                request_id: String::new(),
            };
            client
                .start_consultation(request)
                .await?
                .into_inner()
                .consultation
        }
        ConsultCommand::Complete(args) => {
            let outcome = pb::ConsultationOutcome {
                first_steps: args.steps,
                self_help_options: args.self_help,
                office_offers: args.offers,
                capacity_to_work: types::CapacityToWork::from(args.capacity).into(),
                capacity_basis: args
                    .capacity_basis
                    .map(|b| types::CapacityBasis::from(b).into())
                    .unwrap_or_default(),
                activation_track: types::ActivationTrack::from(args.track).into(),
                barriers: args
                    .barriers
                    .into_iter()
                    .map(|b| types::Barrier::from(b).into())
                    .collect(),
                notes: args.notes.unwrap_or_default(),
            };
            let request = pb::CompleteConsultationRequest {
                consultation_id: args.consultation_id.to_string(),
                outcome: Some(outcome),
                request_id: String::new(),
            };
            client
                .complete_consultation(request)
                .await?
                .into_inner()
                .consultation
        }
        ConsultCommand::Get { id } => {
            let request = pb::GetConsultationRequest { id: id.to_string() };
            client
                .get_consultation(request)
                .await?
                .into_inner()
                .consultation
        }
    };
    let consultation = present(consultation, "consultation")?;
    out.show(
        || json!({ "consultation": json::consultation(&consultation) }),
        || human::consultation(&consultation),
    )
}

/// Opens a case (`fallwerk case open`), the one `case` command that is intake's.
pub async fn open_case(
    args: CaseOpenArgs,
    mut client: IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let assignment = if args.lowest_caseload {
        pb::AdvisorAssignment::LowestCaseload
    } else {
        pb::AdvisorAssignment::ConsultingAdvisor
    };
    let request = pb::OpenCaseRequest {
        consultation_id: args.consultation_id.to_string(),
        assignment: assignment.into(),
        request_id: String::new(),
    };
    let answer = client.open_case(request).await?.into_inner();
    let case = present(answer.case_opening, "case_opening")?;
    out.show(
        || {
            json!({
                "case_opening": json::case_opening(&case),
                "feed_position": answer.feed_position,
            })
        },
        || human::case_opening(&case, answer.feed_position),
    )
}

async fn figures(
    args: FiguresArgs,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let request = pb::GetTeamFiguresRequest {
        team_id: args.team.to_string(),
        start_date: Some(wire_date(args.from)),
        end_date: Some(wire_date(args.to)),
    };
    let figures = client.get_team_figures(request).await?.into_inner();
    out.show(
        || json::team_figures(&figures),
        || human::team_figures(&figures),
    )
}

/// A message field the service always sets; its absence is reported, never unwrapped.
pub fn present<T>(field: Option<T>, name: &'static str) -> Result<T, CliError> {
    field.ok_or(CliError::IncompleteAnswer(name))
}
