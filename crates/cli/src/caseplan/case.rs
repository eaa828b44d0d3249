//! `fallwerk case ...`: reading, listing and changing cases; what is due; the timeline.

use chrono::NaiveDate;
use clap::Subcommand;
use fallwerk_platform::wire::wire_date;
use fallwerk_proto::{caseplan as pb, types};
use serde_json::json;
use uuid::Uuid;

use crate::{
    client::CasePlanClient,
    client::{once, request_id},
    error::CliError,
    intake::{self, PageArgs, present},
    output::{
        Output,
        human::caseplan as human,
        json::{self, caseplan as cp_json},
    },
    parse::{self, caseplan as choice},
};

/// `fallwerk case ...`: opened at intake, carried on in case-plan.
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Opens the case of a completed consultation (intake; advisor, team_lead).
    Open(intake::CaseOpenArgs),
    /// Shows a case: client, state, advisor, legal basis, plan, next review and due day.
    Show {
        /// The case.
        id: Uuid,
        /// Wait until case-plan has seen intake's feed this far: the `feed position` that
        /// `case open` printed, for a case opened a moment ago.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(0..))]
        at_position: Option<i64>,
    },
    /// Lists your cases, or your team's.
    List {
        /// Every case of the team, not only those you are responsible for.
        #[arg(long)]
        team: bool,
        /// Only open or only closed cases.
        #[arg(long, value_enum)]
        state: Option<choice::CaseState>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Sets the law the assistance rests on; it decides the agreement's legal form (advisor).
    SetBasis {
        /// The case.
        id: Uuid,
        /// The legal basis.
        #[arg(long, value_enum)]
        basis: choice::Basis,
        /// The case's etag, from `case show`.
        #[arg(long)]
        etag: String,
    },
    /// What needs you today: reviews, overdue steps, expiring agreements, follow-ups.
    Due {
        /// The team's cases, not only yours (team_lead: always).
        #[arg(long)]
        team: bool,
        /// Agreements ending within this many days count as expiring (0 to 90; default 14).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..=90))]
        within_days: Option<i32>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Everything that happened in a case, oldest first.
    Timeline {
        /// The case.
        id: Uuid,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Hands a case to another active advisor of the team (team_lead, responsible advisor).
    Reassign {
        /// The case.
        id: Uuid,
        /// The advisor taking over (roster id, see `fallwerk advisor list`).
        #[arg(long, value_name = "ADVISOR_ID")]
        to: Uuid,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The case's etag, from `case show`.
        #[arg(long)]
        etag: String,
    },
    /// Reopens a closed case: the client needs help again (advisor).
    Reopen {
        /// The closed case.
        id: Uuid,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The case's etag, from `case show`.
        #[arg(long)]
        etag: String,
    },
    /// Places a legal hold: the case is kept past its retention period (team_lead).
    Hold {
        /// The case.
        id: Uuid,
        /// Why it must be kept, e.g. the court case's reference.
        #[arg(long)]
        reason: String,
        /// The case's etag, from `case show`.
        #[arg(long)]
        etag: String,
    },
    /// Releases a legal hold: the next retention run erases the case once its period is over
    /// (team_lead).
    Release {
        /// The case.
        id: Uuid,
        /// The case's etag, from `case show`.
        #[arg(long)]
        etag: String,
    },
    /// The team's case figures over a range of days (team_lead).
    Figures {
        /// First day, YYYY-MM-DD.
        #[arg(long, value_parser = parse::date)]
        from: NaiveDate,
        /// Last day (inclusive), YYYY-MM-DD.
        #[arg(long, value_parser = parse::date)]
        to: NaiveDate,
        /// An agreement counts as early when agreed within this many days of opening
        /// (1 to 365; default 30).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=365))]
        agreement_within_days: Option<i32>,
    },
}

/// Runs one `case` command other than `open` (intake's) and shows its answer.
pub async fn case(
    command: CaseCommand,
    mut client: CasePlanClient,
    out: &Output,
) -> Result<(), CliError> {
    let client = &mut client;
    let case = match command {
        // main sends `case open` to intake; answering it here would be a routing bug.
        CaseCommand::Open(_) => return Err(CliError::Usage("`case open` is intake's".into())),
        CaseCommand::Show { id, at_position } => {
            let request = pb::GetCaseRequest {
                case_id: id.to_string(),
                min_intake_position: at_position.unwrap_or_default(),
            };
            client.get_case(request).await?.into_inner().case
        }
        CaseCommand::List { team, state, page } => {
            let request = pb::ListCasesRequest {
                scope: scope(team).into(),
                state: state
                    .map_or(pb::CaseState::Unspecified, pb::CaseState::from)
                    .into(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
                min_intake_position: 0,
            };
            let answer = client.list_cases(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "cases": json::list(&answer.cases, cp_json::case),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::cases(&answer.cases, &answer.next_page_token),
            );
        }
        CaseCommand::SetBasis { id, basis, etag } => {
            let request = pb::UpdateCaseRequest {
                case: Some(pb::Case {
                    id: id.to_string(),
                    legal_basis: types::LegalBasis::from(basis).into(),
                    etag,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["legal_basis".into()],
                }),
            };
            client.update_case(request).await?.into_inner().case
        }
        CaseCommand::Due {
            team,
            within_days,
            page,
        } => {
            let request = pb::ListDueItemsRequest {
                scope: scope(team).into(),
                within_days: within_days.unwrap_or_default(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
            };
            let answer = client.list_due_items(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "items": json::list(&answer.items, cp_json::due_item),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::due_items(&answer.items, &answer.next_page_token),
            );
        }
        CaseCommand::Timeline { id, page } => {
            let request = pb::ListTimelineEntriesRequest {
                case_id: id.to_string(),
                page_size: page.page_size.unwrap_or_default(),
                page_token: page.page_token.unwrap_or_default(),
            };
            let answer = client.list_timeline_entries(request).await?.into_inner();
            return out.show(
                || {
                    json!({
                        "entries": json::list(&answer.entries, cp_json::timeline_entry),
                        "next_page_token": answer.next_page_token,
                    })
                },
                || human::timeline(&answer.entries, &answer.next_page_token),
            );
        }
        CaseCommand::Reassign {
            id,
            to,
            reason,
            etag,
        } => {
            let request = pb::ReassignCaseRequest {
                request_id: request_id(),
                case_id: id.to_string(),
                advisor_id: to.to_string(),
                reason,
                etag,
            };
            client.reassign_case(once(request)).await?.into_inner().case
        }
        CaseCommand::Reopen { id, reason, etag } => {
            let request = pb::ReopenCaseRequest {
                request_id: request_id(),
                case_id: id.to_string(),
                reason,
                etag,
            };
            client.reopen_case(once(request)).await?.into_inner().case
        }
        CaseCommand::Hold { id, reason, etag } => {
            let request = pb::SetLegalHoldRequest {
                case_id: id.to_string(),
                hold: true,
                reason,
                etag,
            };
            client.set_legal_hold(request).await?.into_inner().case
        }
        CaseCommand::Release { id, etag } => {
            let request = pb::SetLegalHoldRequest {
                case_id: id.to_string(),
                hold: false,
                reason: String::new(),
                etag,
            };
            client.set_legal_hold(request).await?.into_inner().case
        }
        CaseCommand::Figures {
            from,
            to,
            agreement_within_days,
        } => {
            let request = pb::GetCaseFiguresRequest {
                start_date: Some(wire_date(from)),
                end_date: Some(wire_date(to)),
                agreement_within_days: agreement_within_days.unwrap_or_default(),
            };
            let figures = client.get_case_figures(request).await?.into_inner();
            return out.show(
                || cp_json::case_figures(&figures),
                || human::case_figures(&figures),
            );
        }
    };
    show_case(present(case, "case")?, out)
}

pub(super) fn show_case(case: pb::Case, out: &Output) -> Result<(), CliError> {
    out.show(
        || json!({ "case": cp_json::case(&case) }),
        || human::case(&case),
    )
}

/// `--team` as the request's scope.
fn scope(team: bool) -> pb::CaseScope {
    if team {
        pb::CaseScope::Team
    } else {
        pb::CaseScope::Mine
    }
}
