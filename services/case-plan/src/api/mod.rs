//! The gRPC handlers of `fallwerk.caseplan.v1.CasePlanService`, one file per resource. Each
//! handler parses its request into domain values (every bad field named), checks that the case
//! is the caller's team's, and makes its change as one platform `Change`: state, event, audit
//! record and (for creates) the stored answer commit together.

mod agenda;
mod agreements;
mod cases;
mod plans;
mod reviews;
mod snapshot;
mod teams;
mod timeline;

use std::sync::Arc;

use fallwerk_platform::{
    ApiError,
    app::{Api, Context},
    auth::Caller,
    change::Changes,
    clock::Clock,
    feed::upstream::UpstreamPositions,
    grpc_handlers, wire_enum,
};
use fallwerk_proto::caseplan::{
    self as pb,
    case_plan_service_server::{CasePlanService, CasePlanServiceServer},
    case_snapshot_service_server::{CaseSnapshotService, CaseSnapshotServiceServer},
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
    upstream_positions: UpstreamPositions,
}

/// Builds case-plan's gRPC service (the blueprint's `api`).
pub fn api(context: Context) -> Api {
    let case_plan = CasePlan {
        changes: context.changes,
        clock: context.clock,
        upstream_positions: context.upstream_positions,
    };
    let snapshots = CaseSnapshotServiceServer::new(case_plan.clone())
        .max_decoding_message_size(context.max_message_bytes)
        .max_encoding_message_size(context.max_message_bytes);
    let server = CasePlanServiceServer::new(case_plan)
        .max_decoding_message_size(context.max_message_bytes)
        .max_encoding_message_size(context.max_message_bytes);
    Api {
        routes: tonic::service::Routes::new(server).add_service(snapshots),
        policies: vec![authz::POLICY, authz::SNAPSHOT_POLICY],
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
    record_follow_up(pb::RecordFollowUpRequest) -> pb::RecordFollowUpResponse;
    reopen_case(pb::ReopenCaseRequest) -> pb::ReopenCaseResponse;
    reassign_case(pb::ReassignCaseRequest) -> pb::ReassignCaseResponse;
    set_legal_hold(pb::SetLegalHoldRequest) -> pb::SetLegalHoldResponse;
    list_timeline_entries(pb::ListTimelineEntriesRequest) -> pb::ListTimelineEntriesResponse;
    list_due_items(pb::ListDueItemsRequest) -> pb::ListDueItemsResponse;
    get_case_figures(pb::GetCaseFiguresRequest) -> pb::GetCaseFiguresResponse;
    create_agreement(pb::CreateAgreementRequest) -> pb::CreateAgreementResponse;
    get_agreement(pb::GetAgreementRequest) -> pb::GetAgreementResponse;
    list_agreements(pb::ListAgreementsRequest) -> pb::ListAgreementsResponse;
    update_agreement(pb::UpdateAgreementRequest) -> pb::UpdateAgreementResponse;
    propose_agreement(pb::ProposeAgreementRequest) -> pb::ProposeAgreementResponse;
    comment_on_agreement(pb::CommentOnAgreementRequest) -> pb::CommentOnAgreementResponse;
    accept_agreement(pb::AcceptAgreementRequest) -> pb::AcceptAgreementResponse;
    decline_agreement(pb::DeclineAgreementRequest) -> pb::DeclineAgreementResponse;
    dispute_agreement(pb::DisputeAgreementRequest) -> pb::DisputeAgreementResponse;
    resolve_dispute(pb::ResolveDisputeRequest) -> pb::ResolveDisputeResponse;
    approve_plan_revision(pb::ApprovePlanRevisionRequest) -> pb::ApprovePlanRevisionResponse;
    record_review(pb::RecordReviewRequest) -> pb::RecordReviewResponse;
    list_reviews(pb::ListReviewsRequest) -> pb::ListReviewsResponse;
    get_team_settings(pb::GetTeamSettingsRequest) -> pb::GetTeamSettingsResponse;
    update_team_settings(pb::UpdateTeamSettingsRequest) -> pb::UpdateTeamSettingsResponse;
} }

grpc_handlers! { CasePlan: CaseSnapshotService {
    get_case_snapshot(pb::GetCaseSnapshotRequest) -> pb::GetCaseSnapshotResponse;
} }

impl From<domain::StateError> for ApiError {
    fn from(error: domain::StateError) -> Self {
        ApiError::precondition(error.reason(), error.to_string())
    }
}

/// Longest wait of a read for intake's feed to reach the position the caller asks for.
const READ_YOUR_WRITES_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl CasePlan {
    /// Waits until intake's feed is applied up to `position` (read-your-writes after OpenCase).
    async fn caught_up_with_intake(&self, position: i64) -> Result<(), ApiError> {
        self.upstream_positions
            .wait_for("intake", position, READ_YOUR_WRITES_WAIT)
            .await
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
wire_enum!(
    domain::FollowUpResult,
    pb::FollowUpResult,
    [Lasting, NotLasting, Unreachable]
);
wire_enum!(
    domain::AgreementForm,
    pb::AgreementForm,
    [SignedAgreement, CooperationPlan, WrittenAgreement]
);
wire_enum!(
    domain::AcknowledgementChannel,
    pb::AcknowledgementChannel,
    [InPerson, Letter, Email, Portal]
);
wire_enum!(domain::CommentAuthor, pb::CommentAuthor, [Client, Office]);
wire_enum!(domain::DisputeOutcome, pb::DisputeOutcome, [Keep, End]);
wire_enum!(
    domain::GoalProgress,
    pb::GoalProgress,
    [None, Some, Reached]
);
wire_enum!(
    domain::DueKind,
    pb::DueKind,
    [Review, StepOverdue, AgreementExpiring, FollowUp]
);
wire_enum!(
    domain::TimelineKind,
    pb::TimelineKind,
    [
        Opened,
        LegalBasisSet,
        PlanRevised,
        PlanApproved,
        AgreementDrafted,
        AgreementProposed,
        AgreementCommented,
        AgreementAgreed,
        AgreementDeclined,
        AgreementDisputed,
        DisputeResolved,
        Reviewed,
        Reassigned,
        Closed,
        FollowedUp,
        Reopened,
        ReferralChanged
    ]
);
