//! `fallwerk visit`, `queue` and `access-check`: arrivals at the office and their access check.

use clap::{Args, Subcommand};
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

use super::{PageArgs, present};

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

pub(super) async fn visit(
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
                request_id: request_id(),
                kind: pb::VisitKind::from(kind).into(),
                team_id: team.map(|t| t.to_string()).unwrap_or_default(),
            };
            client
                .register_visit(once(request))
                .await?
                .into_inner()
                .visit
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
                request_id: request_id(),
            };
            client.end_visit(once(request)).await?.into_inner().visit
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

pub(super) async fn access_check(
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
        request_id: request_id(),
    };
    let visit = client
        .record_access_check(once(request))
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
