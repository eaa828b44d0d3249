//! `fallwerk agreement ...`: help agreements from draft to agreed, declined or disputed.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
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

/// `fallwerk agreement ...`.
#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// Drafts an agreement on the current plan revision, in the form the legal basis gives.
    Draft(DraftArgs),
    /// Shows an agreement with its comments and dispute.
    Show {
        /// The agreement.
        id: Uuid,
    },
    /// Lists a case's agreements, newest first.
    List {
        /// The case.
        case_id: Uuid,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Puts a draft to the client.
    Propose {
        /// The draft.
        id: Uuid,
        /// Its etag.
        #[arg(long)]
        etag: String,
    },
    /// Records a comment or counter-proposal of the client or the office.
    Comment {
        /// The agreement.
        id: Uuid,
        /// Whose comment.
        #[arg(long, value_enum)]
        by: choice::Author,
        /// The comment.
        #[arg(long)]
        text: String,
        /// It proposes other content rather than remarking on it.
        #[arg(long)]
        counter_proposal: bool,
        /// Its etag.
        #[arg(long)]
        etag: String,
    },
    /// Records that the client agreed to a proposal.
    Accept(AcceptArgs),
    /// Records that the client declined a proposal.
    Decline {
        /// The proposal.
        id: Uuid,
        /// The client's reason.
        #[arg(long)]
        reason: String,
        /// Its etag.
        #[arg(long)]
        etag: String,
    },
    /// Records the client's objection (Schlichtung): the agreement pauses until resolved.
    Dispute {
        /// The proposal or the agreement in force.
        id: Uuid,
        /// The objection in the client's words.
        #[arg(long)]
        objection: String,
        /// Its etag.
        #[arg(long)]
        etag: String,
    },
    /// Ends a dispute: the agreement goes on (keep) or ends (end) (advisor, team_lead).
    Resolve {
        /// The disputed agreement.
        id: Uuid,
        /// How it ends; after end, a new plan revision (dispute-resolution) and agreement.
        #[arg(long, value_enum)]
        outcome: choice::DisputeOutcome,
        /// The resolution.
        #[arg(long)]
        resolution: String,
        /// Its etag.
        #[arg(long)]
        etag: String,
    },
}

/// `fallwerk agreement draft`.
#[derive(Debug, Args)]
pub struct DraftArgs {
    /// The case.
    case_id: Uuid,
    /// What is agreed, in words the client understands.
    #[arg(long)]
    text: String,
    /// Day by which it is reviewed at the latest, YYYY-MM-DD (a cooperation plan: within six
    /// months).
    #[arg(long, value_parser = parse::date)]
    review_date: NaiveDate,
    /// First day in force, YYYY-MM-DD; default: the day it is agreed.
    #[arg(long, value_parser = parse::date)]
    start_date: Option<NaiveDate>,
    /// Last day in force, YYYY-MM-DD; default: until superseded or ended.
    #[arg(long, value_parser = parse::date)]
    end_date: Option<NaiveDate>,
}

/// `fallwerk agreement accept`.
#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The proposal.
    id: Uuid,
    /// How the client agreed.
    #[arg(long, value_enum)]
    channel: choice::Channel,
    /// The client signed (a signed agreement needs both signatures).
    #[arg(long)]
    client_signed: bool,
    /// The office signed.
    #[arg(long)]
    office_signed: bool,
    /// The client assented (a written agreement under § 12 SGB XII needs it).
    #[arg(long)]
    client_assent: bool,
    /// Its etag.
    #[arg(long)]
    etag: String,
}

pub(super) async fn agreement(
    command: AgreementCommand,
    client: &mut CasePlanClient,
    out: &Output,
) -> Result<(), CliError> {
    let agreement = match command {
        AgreementCommand::Draft(args) => {
            let request = pb::CreateAgreementRequest {
                case_id: args.case_id.to_string(),
                agreement: Some(pb::Agreement {
                    text: args.text,
                    review_date: Some(wire_date(args.review_date)),
                    start_date: args.start_date.map(wire_date),
                    end_date: args.end_date.map(wire_date),
                    ..Default::default()
                }),
                request_id: request_id(),
            };
            client
                .create_agreement(once(request))
                .await?
                .into_inner()
                .agreement
        }
        AgreementCommand::Show { id } => {
            let request = pb::GetAgreementRequest {
                agreement_id: id.to_string(),
            };
            client.get_agreement(request).await?.into_inner().agreement
        }
        AgreementCommand::List { case_id, page } => {
            let request = pb::ListAgreementsRequest {
                case_id: case_id.to_string(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
            };
            let answer = client.list_agreements(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "agreements": json::list(&answer.agreements, cp_json::agreement),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::agreements(&answer.agreements, &answer.next_page_token),
            );
        }
        AgreementCommand::Propose { id, etag } => {
            let request = pb::ProposeAgreementRequest {
                request_id: request_id(),
                agreement_id: id.to_string(),
                etag,
            };
            client
                .propose_agreement(once(request))
                .await?
                .into_inner()
                .agreement
        }
        AgreementCommand::Comment {
            id,
            by,
            text,
            counter_proposal,
            etag,
        } => {
            let request = pb::CommentOnAgreementRequest {
                request_id: request_id(),
                agreement_id: id.to_string(),
                comment: Some(pb::AgreementComment {
                    author: pb::CommentAuthor::from(by).into(),
                    text,
                    counter_proposal,
                    ..Default::default()
                }),
                etag,
            };
            client
                .comment_on_agreement(once(request))
                .await?
                .into_inner()
                .agreement
        }
        AgreementCommand::Accept(args) => {
            let request = pb::AcceptAgreementRequest {
                request_id: request_id(),
                agreement_id: args.id.to_string(),
                acknowledgement: Some(pb::Acknowledgement {
                    channel: pb::AcknowledgementChannel::from(args.channel).into(),
                    client_signed: args.client_signed,
                    office_signed: args.office_signed,
                    client_assent: args.client_assent,
                    ..Default::default()
                }),
                etag: args.etag,
            };
            client
                .accept_agreement(once(request))
                .await?
                .into_inner()
                .agreement
        }
        AgreementCommand::Decline { id, reason, etag } => {
            let request = pb::DeclineAgreementRequest {
                request_id: request_id(),
                agreement_id: id.to_string(),
                reason,
                etag,
            };
            client
                .decline_agreement(once(request))
                .await?
                .into_inner()
                .agreement
        }
        AgreementCommand::Dispute {
            id,
            objection,
            etag,
        } => {
            let request = pb::DisputeAgreementRequest {
                request_id: request_id(),
                agreement_id: id.to_string(),
                objection,
                etag,
            };
            client
                .dispute_agreement(once(request))
                .await?
                .into_inner()
                .agreement
        }
        AgreementCommand::Resolve {
            id,
            outcome,
            resolution,
            etag,
        } => {
            let request = pb::ResolveDisputeRequest {
                request_id: request_id(),
                agreement_id: id.to_string(),
                resolution,
                outcome: pb::DisputeOutcome::from(outcome).into(),
                etag,
            };
            client
                .resolve_dispute(once(request))
                .await?
                .into_inner()
                .agreement
        }
    };
    let agreement = present(agreement, "agreement")?;
    out.show(
        || json!({ "agreement": cp_json::agreement(&agreement) }),
        || human::agreement(&agreement),
    )
}
