//! The gRPC handlers of `fallwerk.intake.v1.IntakeService`, one file per resource. Each
//! handler parses its request into domain values (every bad field named), checks the
//! object-level rule, and makes its change as one platform `Change`: state, event, audit record
//! and (for creates) the stored answer commit together.

mod applicants;
mod cases;
mod consultations;
mod roster;
mod visits;

use std::sync::Arc;

use fallwerk_platform::{
    ApiError,
    app::{Api, Context},
    change::Changes,
    clock::Clock,
    grpc_handlers, wire_enum,
};
use fallwerk_proto::{
    intake::{
        self as pb,
        intake_service_server::{IntakeService, IntakeServiceServer},
    },
    types,
};

use crate::{authz, domain};

/// The intake service: its changes and audited reads, and the clock it stamps them with.
#[derive(Clone)]
pub struct Intake {
    changes: Changes,
    clock: Arc<dyn Clock>,
}

/// Builds intake's gRPC service (the blueprint's `api`).
pub fn api(context: Context) -> Api {
    let intake = Intake {
        changes: context.changes,
        clock: context.clock,
    };
    tokio::spawn(visits::end_stale_visits(intake.clone(), context.shutdown));
    let server = IntakeServiceServer::new(intake)
        .max_decoding_message_size(context.max_message_bytes)
        .max_encoding_message_size(context.max_message_bytes);
    Api {
        routes: tonic::service::Routes::new(server),
        policies: vec![authz::POLICY],
    }
}

grpc_handlers! { Intake: IntakeService {
    create_applicant(pb::CreateApplicantRequest) -> pb::CreateApplicantResponse;
    get_applicant(pb::GetApplicantRequest) -> pb::GetApplicantResponse;
    search_applicants(pb::SearchApplicantsRequest) -> pb::SearchApplicantsResponse;
    update_applicant(pb::UpdateApplicantRequest) -> pb::UpdateApplicantResponse;
    get_applicant_contact(pb::GetApplicantContactRequest) -> pb::GetApplicantContactResponse;
    register_visit(pb::RegisterVisitRequest) -> pb::RegisterVisitResponse;
    get_visit(pb::GetVisitRequest) -> pb::GetVisitResponse;
    list_waiting_queue(pb::ListWaitingQueueRequest) -> pb::ListWaitingQueueResponse;
    list_visits(pb::ListVisitsRequest) -> pb::ListVisitsResponse;
    end_visit(pb::EndVisitRequest) -> pb::EndVisitResponse;
    record_access_check(pb::RecordAccessCheckRequest) -> pb::RecordAccessCheckResponse;
    start_consultation(pb::StartConsultationRequest) -> pb::StartConsultationResponse;
    complete_consultation(pb::CompleteConsultationRequest) -> pb::CompleteConsultationResponse;
    get_consultation(pb::GetConsultationRequest) -> pb::GetConsultationResponse;
    create_team(pb::CreateTeamRequest) -> pb::CreateTeamResponse;
    update_team(pb::UpdateTeamRequest) -> pb::UpdateTeamResponse;
    get_team(pb::GetTeamRequest) -> pb::GetTeamResponse;
    list_teams(pb::ListTeamsRequest) -> pb::ListTeamsResponse;
    create_advisor(pb::CreateAdvisorRequest) -> pb::CreateAdvisorResponse;
    update_advisor(pb::UpdateAdvisorRequest) -> pb::UpdateAdvisorResponse;
    get_advisor(pb::GetAdvisorRequest) -> pb::GetAdvisorResponse;
    list_advisors(pb::ListAdvisorsRequest) -> pb::ListAdvisorsResponse;
    open_case(pb::OpenCaseRequest) -> pb::OpenCaseResponse;
    get_team_figures(pb::GetTeamFiguresRequest) -> pb::GetTeamFiguresResponse;
} }

impl From<domain::StateError> for ApiError {
    fn from(error: domain::StateError) -> Self {
        ApiError::precondition(error.reason(), error.to_string())
    }
}

wire_enum!(
    domain::VisitState,
    pb::VisitState,
    [
        Waiting,
        ReadyForConsultation,
        InConsultation,
        Consulted,
        Closed
    ]
);
wire_enum!(
    domain::ConsultationState,
    pb::ConsultationState,
    [InProgress, Completed]
);
wire_enum!(
    domain::AccessDecision,
    pb::AccessDecision,
    [Continue, PriorityProvider, NoNeed, NotLocallyResponsible]
);
wire_enum!(
    domain::PriorityClaim,
    pb::PriorityClaim,
    [
        UnemploymentBenefit,
        JobCenter,
        HousingBenefit,
        ChildBenefit,
        Maintenance,
        OwnIncome,
        OwnAssets,
        Pension,
        ChildMaintenanceAdvance,
        SicknessBenefit,
        TrainingAllowance,
        Other
    ]
);
wire_enum!(
    domain::ClaimOutcome,
    pb::ClaimOutcome,
    [None, Received, ToBeApplied, Unclear]
);
wire_enum!(
    domain::AdvisorFunction,
    pb::AdvisorFunction,
    [Administrative, SocialWork, JobPlacement]
);
wire_enum!(
    domain::Assignment,
    pb::AdvisorAssignment,
    [ConsultingAdvisor, LowestCaseload]
);
wire_enum!(
    domain::VisitEndReason,
    pb::VisitEndReason,
    [
        Left,
        LeftUnseen,
        PriorityProvider,
        NoNeed,
        AppointmentLater,
        NotLocallyResponsible
    ]
);
wire_enum!(
    domain::VisitKind,
    pb::VisitKind,
    [WalkIn, Appointment, FollowUp]
);
wire_enum!(
    domain::ContactChannel,
    types::ContactChannel,
    [Post, Phone, Email, InPerson]
);
wire_enum!(
    domain::IdentityDocument,
    pb::IdentityDocument,
    [
        IdCard,
        Passport,
        ResidencePermit,
        ArrivalCertificate,
        IdSubstitute,
        Other
    ]
);
wire_enum!(
    domain::ResidenceStatus,
    pb::ResidenceStatus,
    [
        German,
        EuFreedomOfMovement,
        SettlementPermit,
        ResidencePermit,
        AsylumProcedure,
        Tolerated,
        Other
    ]
);
