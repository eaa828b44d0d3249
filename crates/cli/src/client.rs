//! The clients of fallwerk's services as the CLI uses them: every call carries the bearer
//! token, the current trace context and a 10-second deadline; reads, and writes sent with a
//! fresh request id ([`once`]), that find a service unavailable are asked again within it
//! (`SafeRetries`). Updates guarded only by an etag are never repeated.

use std::time::Duration;

use fallwerk_proto::{
    audit::audit_trail_service_client::AuditTrailServiceClient,
    caseplan::case_plan_service_client::CasePlanServiceClient,
    intake::intake_service_client::IntakeServiceClient,
    partner::partner_service_client::PartnerServiceClient,
};
use tonic::{
    Request, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Uri},
};

use fallwerk_platform::client::SafeRetries;

use crate::error::CliError;

/// How long one call may take before the CLI gives up; the service sees it as the deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The intake client with the CLI's per-call metadata.
pub type IntakeClient = IntakeServiceClient<InterceptedService<SafeRetries, CallMetadata>>;

/// The case-plan client with the CLI's per-call metadata.
pub type CasePlanClient = CasePlanServiceClient<InterceptedService<SafeRetries, CallMetadata>>;

/// Builds the intake client. Connecting is lazy: an unreachable service shows up as the first
/// call's UNAVAILABLE status, reported like any other refusal.
pub fn intake(
    addr: Uri,
    authorization: AsciiMetadataValue,
    ca_cert: Option<Certificate>,
) -> Result<IntakeClient, CliError> {
    let (channel, interceptor) = channel("--addr", addr, authorization, ca_cert)?;
    Ok(IntakeServiceClient::with_interceptor(channel, interceptor))
}

/// Builds the case-plan client, lazily connecting like [`intake`].
pub fn case_plan(
    addr: Uri,
    authorization: AsciiMetadataValue,
    ca_cert: Option<Certificate>,
) -> Result<CasePlanClient, CliError> {
    let (channel, interceptor) = channel("--case-plan-addr", addr, authorization, ca_cert)?;
    Ok(CasePlanServiceClient::with_interceptor(
        channel,
        interceptor,
    ))
}

/// The audit-trail client of one service (every service serves one).
pub type AuditClient = AuditTrailServiceClient<InterceptedService<SafeRetries, CallMetadata>>;

/// The partner (staff side) client.
pub type PartnerClient = PartnerServiceClient<InterceptedService<SafeRetries, CallMetadata>>;

/// Builds the audit-trail client of the service at `addr` (whose option is `flag`).
pub fn audit(
    flag: &str,
    addr: Uri,
    authorization: AsciiMetadataValue,
    ca_cert: Option<Certificate>,
) -> Result<AuditClient, CliError> {
    let (channel, interceptor) = channel(flag, addr, authorization, ca_cert)?;
    Ok(AuditTrailServiceClient::with_interceptor(
        channel,
        interceptor,
    ))
}

/// Builds the partner client.
pub fn partner(
    addr: Uri,
    authorization: AsciiMetadataValue,
    ca_cert: Option<Certificate>,
) -> Result<PartnerClient, CliError> {
    let (channel, interceptor) = channel("--partner-addr", addr, authorization, ca_cert)?;
    Ok(PartnerServiceClient::with_interceptor(channel, interceptor))
}

/// The channel to one service and the metadata for its calls; `flag` names the address's
/// option in a complaint.
fn channel(
    flag: &str,
    addr: Uri,
    authorization: AsciiMetadataValue,
    ca_cert: Option<Certificate>,
) -> Result<(SafeRetries, CallMetadata), CliError> {
    let channel = fallwerk_platform::client::channel(
        addr,
        &fallwerk_platform::client::ClientTls {
            ca: ca_cert,
            identity: None,
        },
    )
    .map_err(|error| CliError::Usage(format!("{flag}: {error}")))?;
    Ok((SafeRetries::new(channel), CallMetadata { authorization }))
}

/// A fresh idempotency key for a write: the service answers a repeat with the first answer,
/// so the write may be sent again (see [`once`]).
pub fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `message`, whose `request_id` makes a repeat harmless, as a request [`SafeRetries`] may send
/// again when the service was unavailable.
pub fn once<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .extensions_mut()
        .insert(fallwerk_platform::client::Idempotent);
    request
}

/// Adds what every call needs to its request.
#[derive(Clone)]
pub struct CallMetadata {
    /// `Bearer <jwt>`, marked sensitive so it never shows in debug output.
    authorization: AsciiMetadataValue,
}

impl Interceptor for CallMetadata {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        // Sent as `grpc-timeout`: the channel stops waiting and the service stops working.
        request.set_timeout(CALL_TIMEOUT);
        // A no-op until the CLI runs inside a traced span; then the service joins that trace.
        fallwerk_platform::telemetry::inject_current(request.metadata_mut());
        Ok(request)
    }
}
