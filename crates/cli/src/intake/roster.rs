//! `fallwerk team`, `advisor` and `figures`: the teams, their rosters and their figures.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fallwerk_platform::wire::wire_date;
use fallwerk_proto::intake as pb;
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::IntakeClient,
    client::{once, request_id},
    error::CliError,
    output::{Output, human, json},
    parse,
};

use super::present;

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

pub(super) async fn team(
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
                request_id: request_id(),
            };
            let team = present(
                client.create_team(once(request)).await?.into_inner().team,
                "team",
            )?;
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
            // Every page: a roster is short, and a partial list would mislead.
            let mut teams = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_teams(pb::ListTeamsRequest {
                        page_size: 200,
                        page_token,
                    })
                    .await?
                    .into_inner();
                teams.extend(page.teams);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            out.show(
                || json!({ "teams": json::list(&teams, json::team) }),
                || human::teams(&teams),
            )
        }
    }
}

pub(super) async fn advisor(
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
                request_id: request_id(),
            };
            let advisor = present(
                client
                    .create_advisor(once(request))
                    .await?
                    .into_inner()
                    .advisor,
                "advisor",
            )?;
            out.show(
                || json!({ "advisor": json::advisor(&advisor) }),
                || human::advisor(&advisor),
            )
        }
        AdvisorCommand::List { team } => {
            let mut advisors = Vec::new();
            let mut page_token = String::new();
            loop {
                let request = pb::ListAdvisorsRequest {
                    team_id: team.to_string(),
                    page_size: 200,
                    page_token,
                };
                let page = client.list_advisors(request).await?.into_inner();
                advisors.extend(page.advisors);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            out.show(
                || json!({ "advisors": json::list(&advisors, json::advisor) }),
                || human::advisors(&advisors),
            )
        }
    }
}

pub(super) async fn figures(
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
