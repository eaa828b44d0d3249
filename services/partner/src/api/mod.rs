//! The gRPC handlers of partner's two services, one file per resource: `PartnerService` for
//! the office's staff ([`partners`], [`consents`], [`referrals`]) and `PartnerAgencyService`
//! for partner systems ([`agency`]). Each parses its request (every bad field named), checks
//! the object-level rule, and makes its change as one platform `Change`.

mod agency;
mod consents;
mod partners;
pub mod referrals;

use std::{sync::Arc, time::Duration};

use fallwerk_platform::{
    ApiError,
    app::{Api, Context},
    auth::Caller,
    change::Changes,
    client::Outbound,
    clock::Clock,
    grpc_handlers, wire_enum,
};
use fallwerk_proto::{
    partner::{
        self as pb,
        partner_agency_service_server::{PartnerAgencyService, PartnerAgencyServiceServer},
        partner_service_server::{PartnerService, PartnerServiceServer},
    },
    types,
};
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;

use crate::{
    authz,
    domain::{self, CaseId, PartnerId},
    store::{self, cases::CaseRow},
};

/// How long a referral's snapshot call to case-plan may take, retries included.
const SNAPSHOT_DEADLINE: Duration = Duration::from_secs(3);

/// The partner service: its changes and audited reads, its clock, and its clients of
/// case-plan's snapshot service and intake's contact.
#[derive(Clone)]
pub struct PartnerApi {
    changes: Changes,
    clock: Arc<dyn Clock>,
    case_plan: Option<Outbound>,
    intake: Option<Outbound>,
    shutdown: CancellationToken,
}

/// Builds partner's two gRPC services (the blueprint's `api`).
pub fn api(context: Context) -> Api {
    let partner = PartnerApi {
        changes: context.changes,
        clock: context.clock,
        case_plan: context
            .upstream_clients
            .outbound("case-plan", SNAPSHOT_DEADLINE),
        intake: context
            .upstream_clients
            .outbound("intake", SNAPSHOT_DEADLINE),
        shutdown: context.shutdown,
    };
    let agency = PartnerAgencyServiceServer::new(partner.clone())
        .max_decoding_message_size(context.max_message_bytes)
        .max_encoding_message_size(context.max_message_bytes);
    let staff = PartnerServiceServer::new(partner)
        .max_decoding_message_size(context.max_message_bytes)
        .max_encoding_message_size(context.max_message_bytes);
    Api {
        routes: tonic::service::Routes::new(staff).add_service(agency),
        policies: vec![authz::POLICY, authz::AGENCY_POLICY],
    }
}

grpc_handlers! { PartnerApi: PartnerService {
    create_partner(pb::CreatePartnerRequest) -> pb::CreatePartnerResponse;
    update_partner(pb::UpdatePartnerRequest) -> pb::UpdatePartnerResponse;
    list_partners(pb::ListPartnersRequest) -> pb::ListPartnersResponse;
    create_offer(pb::CreateOfferRequest) -> pb::CreateOfferResponse;
    search_offers(pb::SearchOffersRequest) -> pb::SearchOffersResponse;
    record_consent(pb::RecordConsentRequest) -> pb::RecordConsentResponse;
    revoke_consent(pb::RevokeConsentRequest) -> pb::RevokeConsentResponse;
    list_consents(pb::ListConsentsRequest) -> pb::ListConsentsResponse;
    create_referral(pb::CreateReferralRequest) -> pb::CreateReferralResponse;
    get_referral(pb::GetReferralRequest) -> pb::GetReferralResponse;
    list_referrals(pb::ListReferralsRequest) -> pb::ListReferralsResponse;
    withdraw_referral(pb::WithdrawReferralRequest) -> pb::WithdrawReferralResponse;
    get_data_sharing_record(pb::GetDataSharingRecordRequest) -> pb::GetDataSharingRecordResponse;
} }

grpc_handlers! { PartnerApi: PartnerAgencyService {
    [type StreamMyReferralChangesStream = agency::ChangeStream;]
    stream_my_referral_changes(pb::StreamMyReferralChangesRequest) -> Self::StreamMyReferralChangesStream;
    list_my_referrals(pb::ListMyReferralsRequest) -> pb::ListMyReferralsResponse;
    get_my_referral(pb::GetMyReferralRequest) -> pb::GetMyReferralResponse;
    accept_referral(pb::AcceptReferralRequest) -> pb::AcceptReferralResponse;
    decline_referral(pb::DeclineReferralRequest) -> pb::DeclineReferralResponse;
    report_progress(pb::ReportProgressRequest) -> pb::ReportProgressResponse;
    complete_referral(pb::CompleteReferralRequest) -> pb::CompleteReferralResponse;
    update_offer_capacity(pb::UpdateOfferCapacityRequest) -> pb::UpdateOfferCapacityResponse;
} }

impl From<domain::StateError> for ApiError {
    fn from(error: domain::StateError) -> Self {
        match error {
            domain::StateError::OfferFull => ApiError::ResourceExhausted {
                reason: error.reason().into(),
                message: error.to_string(),
            },
            _ => ApiError::precondition(error.reason(), error.to_string()),
        }
    }
}

/// The case `id` if partner knows it and it is the caller's team's; NOT_FOUND otherwise.
async fn team_case(
    conn: &mut PgConnection,
    caller: &Caller,
    id: CaseId,
) -> Result<CaseRow, ApiError> {
    let case = store::cases::get(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("case", id))?;
    caller.same_team(case.team_id, "case", id)?;
    Ok(case)
}

/// The partner a partner system's token speaks for.
fn my_partner(caller: &Caller) -> Result<PartnerId, ApiError> {
    caller
        .partner_id
        .as_deref()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(PartnerId)
        .ok_or_else(|| ApiError::PermissionDenied("the token carries no valid partner_id".into()))
}

wire_enum!(
    domain::PartnerKind,
    pb::PartnerKind,
    [
        JobCenter,
        PublicHealthOffice,
        WelfareAssociation,
        MunicipalService,
        Other
    ]
);
wire_enum!(
    domain::OfferCategory,
    pb::OfferCategory,
    [
        JobPlacement,
        Qualification,
        DebtCounselling,
        AddictionCounselling,
        Childcare,
        HealthAssessment,
        HousingSupport,
        PsychosocialSupport,
        LanguageCourse,
        Other
    ]
);
wire_enum!(
    domain::DataCategory,
    types::DataCategory,
    [
        Identity,
        Contact,
        Household,
        PlanSteps,
        EmploymentHistory,
        Health,
        Finances,
        Notes
    ]
);
wire_enum!(domain::ConsentForm, pb::ConsentForm, [Written, Electronic]);
wire_enum!(
    domain::ReferralState,
    pb::ReferralState,
    [
        Sent, Waiting, Accepted, InProgress, Declined, Completed, EndedEarly, Withdrawn, Closed
    ]
);
wire_enum!(
    domain::ReferralOutcome,
    pb::ReferralOutcome,
    [Completed, StoppedAttending, NotSuitable, Other]
);
wire_enum!(
    domain::Progress,
    pb::Progress,
    [Attended, Started, Interrupted]
);
