//! The intake client as the CLI uses it: every call carries the bearer token, the current
//! trace context and a 10-second deadline.

use std::time::Duration;

use fallwerk_proto::intake::intake_service_client::IntakeServiceClient;
use tonic::{
    Request, Status,
    metadata::AsciiMetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, Uri},
};

use crate::error::CliError;

/// How long one call may take before the CLI gives up; the service sees it as the deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The intake client with the CLI's per-call metadata.
pub type IntakeClient = IntakeServiceClient<InterceptedService<Channel, CallMetadata>>;

/// Builds the client. Connecting is lazy: an unreachable service shows up as the first call's
/// UNAVAILABLE status, reported like any other refusal.
pub fn connect(
    addr: Uri,
    authorization: AsciiMetadataValue,
    ca_cert: Option<Certificate>,
) -> Result<IntakeClient, CliError> {
    let channel = fallwerk_platform::client::channel(addr, ca_cert)
        .map_err(|error| CliError::Usage(format!("--addr: {error}")))?;
    let interceptor = CallMetadata { authorization };
    Ok(IntakeServiceClient::with_interceptor(channel, interceptor))
}

/// Adds what every intake call needs to its request.
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
