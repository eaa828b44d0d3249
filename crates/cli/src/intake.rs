//! The intake workflow at a terminal: each command is one call of
//! `fallwerk.intake.v1.IntakeService`, in the order of a day at the office: register the
//! person and their visit, check access, consult, open the case.

mod applicant;
mod consult;
mod roster;
mod visit;

use clap::{Args, Subcommand};
use fallwerk_proto::intake as pb;
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::IntakeClient,
    error::CliError,
    output::{Output, human, json},
};

pub use self::consult::{CaseOpenArgs, open_case};
use self::{
    applicant::{ApplicantCommand, applicant},
    consult::{ConsultCommand, consult},
    roster::{AdvisorCommand, FiguresArgs, TeamCommand, advisor, figures, team},
    visit::{AccessCheckArgs, VisitCommand, access_check, visit},
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
            // The whole queue, in calling order.
            let mut entries = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_waiting_queue(pb::ListWaitingQueueRequest {
                        team_id: team.map(|t| t.to_string()).unwrap_or_default(),
                        page_size: 200,
                        page_token,
                    })
                    .await?
                    .into_inner();
                entries.extend(page.entries);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            out.show(
                || json!({ "entries": json::list(&entries, json::queue_entry) }),
                || human::queue(&entries),
            )
        }
        IntakeCommand::AccessCheck(args) => access_check(args, client, out).await,
        IntakeCommand::Consult(command) => consult(command, client, out).await,
        IntakeCommand::Figures(args) => figures(args, client, out).await,
    }
}

/// A message field the service always sets; its absence is reported, never unwrapped.
pub fn present<T>(field: Option<T>, name: &'static str) -> Result<T, CliError> {
    field.ok_or(CliError::IncompleteAnswer(name))
}
