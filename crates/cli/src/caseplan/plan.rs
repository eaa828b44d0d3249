//! `fallwerk plan ...` and `fallwerk review ...`: the help plan in revisions, and its reviews.

use chrono::NaiveDate;
use clap::Subcommand;
use fallwerk_platform::wire::wire_date;
use fallwerk_proto::caseplan as pb;
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::CasePlanClient,
    client::{once, request_id},
    error::CliError,
    intake::{PageArgs, present},
    output::{
        Output,
        human::caseplan as human,
        json::{self, caseplan as cp_json},
    },
    parse::{self, caseplan as choice},
};

/// `fallwerk plan ...`.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Shows the current plan: goals with their steps and ids.
    Show {
        /// The case.
        case_id: Uuid,
    },
    /// Makes a new revision from the complete goals in a JSON file (advisor).
    #[command(after_long_help = choice::PLAN_FILE_HELP)]
    Revise {
        /// The case.
        case_id: Uuid,
        /// Why the plan changes; the first revision is first-plan.
        #[arg(long, value_enum)]
        cause: choice::Cause,
        /// The plan's etag, from `plan show` (also for the first plan).
        #[arg(long)]
        etag: String,
        /// The goals as JSON (see `--help`); `-` reads stdin.
        #[arg(long, value_name = "PLAN.json", value_parser = choice::plan_file)]
        file: choice::PlanFile,
    },
    /// Lists the plan's revisions, newest first, with what changed.
    History {
        /// The case.
        case_id: Uuid,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Approves a plan revision (team_lead, where the team asks for approval).
    Approve {
        /// The case.
        case_id: Uuid,
        /// The revision.
        #[arg(long, value_name = "N")]
        revision: i32,
    },
}

/// `fallwerk review ...`.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Records a review of the current plan (advisor).
    Record {
        /// The case.
        case_id: Uuid,
        /// Day of the next review, YYYY-MM-DD (a cooperation plan: within six months).
        #[arg(long, value_parser = parse::date)]
        next: NaiveDate,
        /// Notes.
        #[arg(long)]
        notes: Option<String>,
        /// Progress of one goal (ids from `plan show`); repeat for each. PROGRESS: none,
        /// some, reached; a note may follow a colon: `<id>=some:Kita-Platz in Aussicht`.
        #[arg(long = "goal", value_name = "GOAL_ID=PROGRESS[:NOTE]", value_parser = choice::goal_review)]
        goals: Vec<pb::GoalReview>,
    },
    /// Lists a case's reviews, newest first.
    List {
        /// The case.
        case_id: Uuid,
        #[command(flatten)]
        page: PageArgs,
    },
}

pub(super) async fn plan(
    command: PlanCommand,
    client: &mut CasePlanClient,
    out: &Output,
) -> Result<(), CliError> {
    let plan = match command {
        PlanCommand::Show { case_id } => {
            let request = pb::GetHelpPlanRequest {
                case_id: case_id.to_string(),
            };
            client.get_help_plan(request).await?.into_inner().plan
        }
        PlanCommand::Revise {
            case_id,
            cause,
            etag,
            file,
        } => {
            let request = pb::ReviseHelpPlanRequest {
                case_id: case_id.to_string(),
                goals: file.0,
                cause: pb::RevisionCause::from(cause).into(),
                etag,
                request_id: request_id(),
            };
            client
                .revise_help_plan(once(request))
                .await?
                .into_inner()
                .plan
        }
        PlanCommand::History { case_id, page } => {
            let request = pb::ListPlanRevisionsRequest {
                case_id: case_id.to_string(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
            };
            let answer = client.list_plan_revisions(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "revisions": json::list(&answer.revisions, cp_json::plan),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::revisions(&answer.revisions, &answer.next_page_token),
            );
        }
        PlanCommand::Approve { case_id, revision } => {
            let request = pb::ApprovePlanRevisionRequest {
                request_id: request_id(),
                case_id: case_id.to_string(),
                revision,
            };
            client
                .approve_plan_revision(once(request))
                .await?
                .into_inner()
                .plan
        }
    };
    let plan = present(plan, "plan")?;
    out.show(
        || json!({ "plan": cp_json::plan(&plan) }),
        || human::plan(&plan),
    )
}

pub(super) async fn review(
    command: ReviewCommand,
    client: &mut CasePlanClient,
    out: &Output,
) -> Result<(), CliError> {
    match command {
        ReviewCommand::Record {
            case_id,
            next,
            notes,
            goals,
        } => {
            let request = pb::RecordReviewRequest {
                case_id: case_id.to_string(),
                review: Some(pb::Review {
                    goals,
                    notes: notes.unwrap_or_default(),
                    next_review_date: Some(wire_date(next)),
                    ..Default::default()
                }),
                request_id: request_id(),
            };
            let review = client
                .record_review(once(request))
                .await?
                .into_inner()
                .review;
            let review = present(review, "review")?;
            out.show(
                || json!({ "review": cp_json::review(&review) }),
                || human::review(&review),
            )
        }
        ReviewCommand::List { case_id, page } => {
            let request = pb::ListReviewsRequest {
                case_id: case_id.to_string(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
            };
            let answer = client.list_reviews(request).await?.into_inner();
            out.show(
                || {
                    json!({
                        "reviews": json::list(&answer.reviews, cp_json::review),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::reviews(&answer.reviews, &answer.next_page_token),
            )
        }
    }
}
