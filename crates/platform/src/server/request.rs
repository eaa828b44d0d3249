//! The request layer every call passes: it joins the caller's trace, authenticates and
//! authorizes, admits the call under the service's overload limits ([`crate::admission`]),
//! bounds it by its deadline, and counts, times and logs its outcome.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tonic::{Status, body::Body};
use tracing::Instrument;

use super::{BoxFuture, partner_certificate_name, service_certificate_name};
use crate::{
    admission::{self, Admission},
    auth::{Access, Authenticator, Authorizer, Caller, Principal, Role},
    telemetry,
};

/// With mutual TLS on, the callers that are systems, not people, must come with a client
/// certificate that names them: a partner system one for its token's partner
/// ([`partner_certificate_name`]), a fallwerk service one for its token's subject
/// ([`service_certificate_name`]). A stolen token alone then acts for no one.
fn client_certificate_matches(
    request: &http::Request<Body>,
    principal: &Principal,
) -> Result<(), Status> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let name = if principal.has(Role::Partner) {
        let Some(partner) = principal.partner_id.as_deref() else {
            return Err(Status::permission_denied(
                "a partner token without partner_id",
            ));
        };
        partner_certificate_name(partner)
    } else if principal.has(Role::Service) {
        service_certificate_name(&principal.subject)
    } else {
        // Staff clients have no certificates.
        return Ok(());
    };
    let certs = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
        .ok_or_else(|| {
            Status::permission_denied("a system presents its client certificate (mTLS)")
        })?;
    let leaf = certs
        .first()
        .ok_or_else(|| Status::permission_denied("no client certificate"))?;
    // Valid for the name by webpki's rules, and naming it exactly: a wildcard such as
    // `*.partner.fallwerk` would otherwise act for every partner.
    let matches = webpki::EndEntityCert::try_from(leaf).is_ok_and(|cert| {
        rustls_pki_types::ServerName::try_from(name.as_str())
            .is_ok_and(|server_name| cert.verify_is_valid_for_subject_name(&server_name).is_ok())
            && cert
                .valid_dns_names()
                .any(|dns| dns.eq_ignore_ascii_case(&name))
    });
    if matches {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "the client certificate is not valid for {name}, which the token names"
        )))
    }
}

/// The tower layer every request passes: trace, authenticate, authorize, admit, bound by the
/// deadline, measure.
#[derive(Clone)]
pub struct RequestLayer {
    pub(super) authenticator: Arc<Authenticator>,
    pub(super) authorizer: Arc<Authorizer>,
    /// Mutual TLS is on: partner systems and services must present their certificates.
    pub(super) client_certificates: bool,
    pub(super) admission: Arc<Admission>,
    pub(super) request_timeout: Duration,
}

impl<S> tower::Layer<S> for RequestLayer {
    type Service = RequestService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestService {
            inner,
            authenticator: Arc::clone(&self.authenticator),
            authorizer: Arc::clone(&self.authorizer),
            client_certificates: self.client_certificates,
            admission: Arc::clone(&self.admission),
            request_timeout: self.request_timeout,
        }
    }
}

/// See [`RequestLayer`].
#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
    authorizer: Arc<Authorizer>,
    client_certificates: bool,
    admission: Arc<Admission>,
    request_timeout: Duration,
}

impl<S> tower::Service<http::Request<Body>> for RequestService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // The clone is not ready; keep the ready one for this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let access = self.authorizer.access(request.uri().path());
        // Only methods with a rule get their own label: a path made up by an unauthenticated
        // caller must not create a new metrics series.
        let label = match access {
            Access::Public => None,
            Access::Roles { label, .. } => Some(label),
            Access::NoRule => Some("unknown"),
        };
        // OpenTelemetry's RPC conventions: `rpc.service` the full service name, `rpc.method`
        // the method alone.
        let (rpc_service, rpc_method) = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or_default();
        let span = tracing::info_span!(
            "grpc.request",
            otel.name = label.unwrap_or("health or reflection"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = rpc_service,
            rpc.method = rpc_method,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            enduser.id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        let trace_id = telemetry::continue_trace(&span, request.headers());
        span.record("trace_id", trace_id.as_str());
        let deadline = Instant::now() + call_budget(request.headers(), self.request_timeout);

        // The caller's quota key for admission; `None` for health and reflection.
        let admitted = match access {
            Access::Public => Ok(None),
            Access::NoRule => Err(Status::permission_denied(
                "no authorization rule for this method",
            )),
            Access::Roles { method, roles, .. } => bearer_token(request.headers())
                .ok_or_else(|| Status::unauthenticated("missing bearer token"))
                .and_then(|token| self.authenticator.authenticate(token).map_err(Status::from))
                .and_then(|principal| {
                    span.record("enduser.id", principal.subject.as_str());
                    if self.client_certificates {
                        client_certificate_matches(&request, &principal)?;
                    }
                    if roles.iter().any(|role| principal.has(*role)) {
                        let key = admission::caller_key(&principal);
                        request.extensions_mut().insert(Caller {
                            principal,
                            method,
                            deadline,
                        });
                        Ok(Some(key))
                    } else {
                        Err(Status::permission_denied(
                            "the caller's roles may not call this method",
                        ))
                    }
                }),
        };

        let admission = Arc::clone(&self.admission);
        Box::pin(
            async move {
                let started = Instant::now();
                let ticket = match admitted {
                    Ok(Some(key)) => admission
                        .admit(key, tokio::time::Instant::from_std(deadline))
                        .await
                        .map(Some),
                    Ok(None) => Ok(None),
                    Err(status) => Err(status),
                };
                let response = match ticket {
                    Ok(ticket) => {
                        let answer = tokio::time::timeout_at(
                            tokio::time::Instant::from_std(deadline),
                            inner.call(request),
                        )
                        .await;
                        drop(ticket);
                        match answer {
                            Ok(response) => callers_fault(response?),
                            Err(_) => Status::deadline_exceeded(
                                "the call's deadline passed before it was answered",
                            )
                            .into_http(),
                        }
                    }
                    Err(status) => status.into_http(),
                };
                let code = grpc_code(&response);
                if let Some(label) = label {
                    record(label, code, started.elapsed());
                }
                let span = tracing::Span::current();
                span.record("rpc.grpc.status_code", code as i32);
                if is_server_fault(code) {
                    span.record("otel.status_code", "ERROR");
                }
                log_outcome(code, &response);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

/// tonic answers a request that does not decode INTERNAL and one over the size limit
/// OUT_OF_RANGE. Both are the caller's fault, and an operator's alert on INTERNAL must mean a
/// fault of ours: they become INVALID_ARGUMENT and RESOURCE_EXHAUSTED (as the gRPC spec names
/// it for a message too large). Such answers are trailers-only, their status in the headers.
fn callers_fault(response: http::Response<Body>) -> http::Response<Body> {
    let Some(status) = Status::from_header_map(response.headers()) else {
        return response;
    };
    let message = status.message();
    let replaced = match status.code() {
        tonic::Code::Internal
            if message.starts_with("failed to decode Protobuf message")
                || message == "Missing request message." =>
        {
            Status::invalid_argument(format!("the request is not a valid message: {message}"))
        }
        tonic::Code::OutOfRange if message.contains("message length too large") => {
            Status::resource_exhausted(message.to_owned())
        }
        _ => return response,
    };
    replaced.into_http()
}

/// How long a call may take: the server's request timeout, or the client's `grpc-timeout` if
/// shorter, less a little, so this layer answers DEADLINE_EXCEEDED (counted, logged, traced)
/// before tonic's own timer, which sits outside it, drops the call as CANCELLED.
fn call_budget(headers: &http::HeaderMap, request_timeout: Duration) -> Duration {
    const AHEAD_OF_TONIC: Duration = Duration::from_millis(2);
    match headers.get("grpc-timeout").and_then(parse_grpc_timeout) {
        Some(asked) if asked < request_timeout => asked.saturating_sub(AHEAD_OF_TONIC),
        _ => request_timeout,
    }
}

/// A `grpc-timeout` value: at most 8 digits and a unit (H, M, S, m, u, n).
pub(crate) fn parse_grpc_timeout(value: &http::HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The status of a response: in its headers when the call failed before any message
/// (trailers-only, as every unary error here is); a unary answer with a message is OK.
fn grpc_code(response: &http::Response<Body>) -> tonic::Code {
    response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
        .unwrap_or(tonic::Code::Ok)
}

fn record(method: &'static str, code: tonic::Code, elapsed: Duration) {
    metrics::counter!("grpc_server_handled_total", "grpc_method" => method, "grpc_code" => format!("{code:?}"))
        .increment(1);
    metrics::histogram!("grpc_server_handling_seconds", "grpc_method" => method)
        .record(elapsed.as_secs_f64());
}

/// The codes OpenTelemetry's RPC conventions make a server span's status ERROR: faults on
/// the server's side; a refusal of the caller's request leaves the status unset.
fn is_server_fault(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unknown | DeadlineExceeded | Unimplemented | Internal | Unavailable | DataLoss
    )
}

fn log_outcome(code: tonic::Code, response: &http::Response<Body>) {
    use tonic::Code::*;
    let status = tonic::Status::from_header_map(response.headers());
    let message = status.as_ref().map(|s| s.message()).unwrap_or_default();
    match code {
        Ok => tracing::debug!("rpc ok"),
        Internal | Unknown | DataLoss => {
            tracing::error!(code = ?code, detail = message, "rpc failed")
        }
        Unavailable | DeadlineExceeded => {
            tracing::warn!(code = ?code, detail = message, "rpc failed")
        }
        _ => tracing::info!(code = ?code, detail = message, "rpc refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(timeout: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", timeout.parse().expect("header value"));
        headers
    }

    #[test]
    fn a_client_deadline_shorter_than_the_server_s_bounds_the_call() {
        let server = Duration::from_secs(30);
        assert_eq!(
            call_budget(&headers("300m"), server),
            Duration::from_millis(298)
        );
        assert_eq!(call_budget(&headers("2M"), server), server);
        assert_eq!(call_budget(&http::HeaderMap::new(), server), server);
        for bad in ["", "m", "123456789m", "10x", "-5S", "1.5S"] {
            assert_eq!(call_budget(&headers(bad), server), server, "{bad:?}");
        }
        assert_eq!(
            parse_grpc_timeout(&"5u".parse().expect("value")),
            Some(Duration::from_micros(5))
        );
    }
}
