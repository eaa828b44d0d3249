//! The gRPC handlers of `fallwerk.caseplan.v1.CasePlanService`, one file per resource. Each
//! handler parses its request into domain values (every bad field named), checks that the case
//! is the caller's team's, and makes its change as one platform `Change`: state, event, audit
//! record and (for creates) the stored answer commit together.

mod cases;
mod plans;

use std::sync::Arc;

use fallwerk_platform::{
    ApiError,
    app::{Api, Context},
    auth::Caller,
    change::Changes,
    clock::Clock,
    grpc_handlers, wire_enum,
};
use fallwerk_proto::caseplan::{
    self as pb,
    case_plan_service_server::{CasePlanService, CasePlanServiceServer},
};
use sqlx::PgConnection;

use crate::{
    authz,
    domain::{self, CaseId},
    store::{self, cases::CaseRow},
};

/// The case-plan service: its changes and audited reads, and the clock it stamps them with.
#[derive(Clone)]
pub struct CasePlan {
    changes: Changes,
    clock: Arc<dyn Clock>,
}

/// Builds case-plan's gRPC service (the blueprint's `api`).
pub fn api(context: Context) -> Api {
    let case_plan = CasePlan {
        changes: context.changes,
        clock: context.clock,
    };
    let server = CasePlanServiceServer::new(case_plan)
        .max_decoding_message_size(context.max_message_bytes)
        .max_encoding_message_size(context.max_message_bytes);
    Api {
        routes: tonic::service::Routes::new(server),
        policies: vec![authz::POLICY],
    }
}

grpc_handlers! { CasePlan: CasePlanService {
    get_case(pb::GetCaseRequest) -> pb::GetCaseResponse;
    list_cases(pb::ListCasesRequest) -> pb::ListCasesResponse;
    update_case(pb::UpdateCaseRequest) -> pb::UpdateCaseResponse;
    get_help_plan(pb::GetHelpPlanRequest) -> pb::GetHelpPlanResponse;
    revise_help_plan(pb::ReviseHelpPlanRequest) -> pb::ReviseHelpPlanResponse;
    list_plan_revisions(pb::ListPlanRevisionsRequest) -> pb::ListPlanRevisionsResponse;
    close_case(pb::CloseCaseRequest) -> pb::CloseCaseResponse;
} }

impl From<domain::StateError> for ApiError {
    fn from(error: domain::StateError) -> Self {
        ApiError::precondition(error.reason(), error.to_string())
    }
}

/// The case `id` if it belongs to the caller's team; NOT_FOUND otherwise (another team's case
/// is none of the caller's business). `lock` takes it for a change in this transaction.
async fn team_case(
    conn: &mut PgConnection,
    caller: &Caller,
    id: CaseId,
    lock: bool,
) -> Result<CaseRow, ApiError> {
    let case = if lock {
        store::cases::lock(conn, id).await?
    } else {
        store::cases::get(conn, id).await?
    }
    .ok_or_else(|| ApiError::not_found("case", id))?;
    caller.same_team(case.team_id, "case", id)?;
    Ok(case)
}

wire_enum!(domain::CaseState, pb::CaseState, [Open, Closed]);
wire_enum!(
    domain::CaseOutcome,
    pb::CaseOutcome,
    [
        WorkTakenUp,
        TrainingStarted,
        IndependentOfAssistance,
        Transferred,
        MovedAway,
        NoLongerCooperating,
        Deceased,
        Other
    ]
);
wire_enum!(
    domain::GoalCategory,
    pb::GoalCategory,
    [
        Work,
        Childcare,
        Health,
        Debt,
        Housing,
        Language,
        Qualification,
        SocialStability,
        Other
    ]
);
wire_enum!(
    domain::GoalStatus,
    pb::GoalStatus,
    [Open, Achieved, Dropped]
);
wire_enum!(domain::StepOwner, pb::StepOwner, [Client, Office, Partner]);
wire_enum!(
    domain::StepStatus,
    pb::StepStatus,
    [Planned, Done, Cancelled]
);
wire_enum!(
    domain::RevisionCause,
    pb::RevisionCause,
    [FirstPlan, Review, ClientRequest, DisputeResolution]
);
