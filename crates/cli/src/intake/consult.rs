//! `fallwerk consult` and `case open`: the first consultation and the case it opens.

use clap::{Args, Subcommand};
use fallwerk_proto::{intake as pb, types};
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

pub(super) async fn consult(
    command: ConsultCommand,
    client: &mut IntakeClient,
    out: &Output,
) -> Result<(), CliError> {
    let consultation = match command {
        ConsultCommand::Start { visit_id } => {
            let request = pb::StartConsultationRequest {
                visit_id: visit_id.to_string(),
                request_id: request_id(),
            };
            client
                .start_consultation(once(request))
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
                request_id: request_id(),
            };
            client
                .complete_consultation(once(request))
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
        request_id: request_id(),
    };
    let answer = client.open_case(once(request)).await?.into_inner();
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
