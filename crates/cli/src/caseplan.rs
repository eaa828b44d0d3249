//! The case-plan workflow at a terminal: each command is one call of
//! `fallwerk.caseplan.v1.CasePlanService`, in the order a case goes: read it, set its legal
//! basis, make the help plan, agree on it, review it, close the case and follow it up.
//!
//! Every change names the version it was read at (`--etag` from the `show` commands); a
//! stale one is refused with ABORTED, so two advisors never overwrite each other.

mod agreement;
mod case;
mod plan;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use fallwerk_platform::wire::wire_date;
use fallwerk_proto::caseplan as pb;
use uuid::Uuid;

use self::case::show_case;
pub use self::case::{CaseCommand, case};
use crate::{
    client::CasePlanClient,
    client::{once, request_id},
    error::CliError,
    intake::present,
    output::Output,
    parse::{self, caseplan as choice},
};

/// The case-plan commands besides `case`.
#[derive(Debug, Subcommand)]
pub enum CasePlanCommand {
    /// A case's help plan (Hilfeplan), in revisions.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Help agreements on the plan, from draft to agreed, declined or disputed.
    #[command(subcommand)]
    Agreement(agreement::AgreementCommand),
    /// Reviews of the plan.
    #[command(subcommand)]
    Review(plan::ReviewCommand),
    /// Closes a case with its outcome and the day to check that it lasted (advisor).
    Close(CloseArgs),
    /// Records at the follow-up whether the effect of a closed case lasted (advisor).
    FollowUp(FollowUpArgs),
}

/// `fallwerk close`.
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// The case.
    case_id: Uuid,
    /// How the case ended.
    #[arg(long, value_enum)]
    outcome: choice::CaseOutcome,
    /// Day to check whether the effect lasted, YYYY-MM-DD; after today.
    #[arg(long, value_parser = parse::date)]
    follow_up: NaiveDate,
    /// A note (required with --outcome other).
    #[arg(long)]
    note: Option<String>,
    /// The case's etag, from `case show`.
    #[arg(long)]
    etag: String,
}

/// `fallwerk follow-up`.
#[derive(Debug, Args)]
pub struct FollowUpArgs {
    /// The closed case.
    case_id: Uuid,
    /// Whether the effect lasted.
    #[arg(long, value_enum)]
    result: choice::FollowUpResult,
    /// A note.
    #[arg(long)]
    note: Option<String>,
    /// The case's etag, from `case show`.
    #[arg(long)]
    etag: String,
}

/// Runs one of the other case-plan commands and shows its answer.
pub async fn run(
    command: CasePlanCommand,
    mut client: CasePlanClient,
    out: &Output,
) -> Result<(), CliError> {
    let client = &mut client;
    match command {
        CasePlanCommand::Plan(command) => plan::plan(command, client, out).await,
        CasePlanCommand::Agreement(command) => agreement::agreement(command, client, out).await,
        CasePlanCommand::Review(command) => plan::review(command, client, out).await,
        CasePlanCommand::Close(args) => {
            let request = pb::CloseCaseRequest {
                case_id: args.case_id.to_string(),
                closure: Some(pb::Closure {
                    outcome: pb::CaseOutcome::from(args.outcome).into(),
                    note: args.note.unwrap_or_default(),
                    follow_up_date: Some(wire_date(args.follow_up)),
                    ..Default::default()
                }),
                etag: args.etag,
                request_id: request_id(),
            };
            let case = client.close_case(once(request)).await?.into_inner().case;
            show_case(present(case, "case")?, out)
        }
        CasePlanCommand::FollowUp(args) => {
            let request = pb::RecordFollowUpRequest {
                request_id: request_id(),
                case_id: args.case_id.to_string(),
                follow_up: Some(pb::FollowUp {
                    result: pb::FollowUpResult::from(args.result).into(),
                    note: args.note.unwrap_or_default(),
                    ..Default::default()
                }),
                etag: args.etag,
            };
            let case = client
                .record_follow_up(once(request))
                .await?
                .into_inner()
                .case;
            show_case(present(case, "case")?, out)
        }
    }
}
