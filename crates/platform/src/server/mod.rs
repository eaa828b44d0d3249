//! gRPC server start-up and shutdown, the same for every service, in this one module (so a
//! later move from tonic to the `grpc` crate touches one place).
//!
//! A server hosts the service's own gRPC services plus the standard health service (status
//! per service following the database) and reflection (`v1` and `v1alpha`). Every request
//! passes one [`RequestLayer`]: it joins the caller's trace, authenticates and authorizes,
//! admits the call under the service's overload limits ([`crate::admission`]), bounds it by its
//! deadline, and counts and times it. On shutdown health turns NOT_SERVING first, then
//! in-flight RPCs get a bounded grace period.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{Status, body::Body, service::Routes};
use tonic_health::ServingStatus;
use tracing::Instrument;

use fallwerk_proto::feed::event_feed_service_server::EventFeedServiceServer;

use crate::{
    admission::{self, Admission},
    audit::{
        self,
        chain::Chainer,
        service::{AuditTrail, PersonRecords},
    },
    auth::{Access, AccessPolicy, Authenticator, Authorizer, Caller, Principal, Role},
    config::{ConfigError, ServerArgs},
    db,
    feed::{self, notify::FeedSignals, sequencer::Sequencer, service::FeedService},
    migrate::Migrator,
    telemetry,
    tls::{ReloadingTls, TlsFiles},
};

/// What a service hands to [`serve`].
pub struct Service {
    /// Short name (`intake`), used in logs.
    pub name: &'static str,
    /// The service's gRPC services, ready to route.
    pub routes: Routes,
    /// Full names of those gRPC services (for health) with their method rules.
    pub policies: Vec<AccessPolicy>,
    /// The service's schema migrations (readiness waits for them).
    pub migrator: Migrator,
    /// The records it holds about a person (the audit trail's person filter).
    pub person_records: PersonRecords,
    /// Set by the health watch while the database is away (see [`db::Reachability`]).
    pub database: db::Reachability,
}

/// Why the server stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Unusable settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The transport failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves `service` on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(
    listener: TcpListener,
    service: Service,
    args: &ServerArgs,
    authenticator: Arc<Authenticator>,
    pool: PgPool,
    signals: FeedSignals,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    // Settings first: nothing starts when they are unusable.
    let tls = tls_config(args)?;
    // Every service serves its outbox as an event feed.
    let schema = service.migrator.schema();
    tokio::spawn(feed::notify::listen(
        pool.clone(),
        schema,
        signals.clone(),
        shutdown.child_token(),
    ));
    // The sequencer outlives the shutdown signal until the server has drained (this function
    // returns): calls still being answered get their events' feed positions, which OpenCase
    // hands its caller for read-your-writes.
    let sequencing = CancellationToken::new();
    let _stop_sequencing = sequencing.clone().drop_guard();
    tokio::spawn(Sequencer::new(pool.clone(), schema).run(signals.clone(), sequencing));
    if args.feed_retention_days > 0 {
        let retention = chrono::Duration::days(i64::from(args.feed_retention_days));
        tokio::spawn(feed::retention::run(
            pool.clone(),
            schema,
            retention,
            shutdown.child_token(),
        ));
    }
    // Every service links its audit records into their hash chain and serves the trail.
    tokio::spawn(Chainer::new(pool.clone(), schema).run(shutdown.child_token()));
    let event_feed = FeedService::new(
        pool.clone(),
        schema,
        signals.stamped.subscribe(),
        shutdown.clone(),
    );
    let routes = service
        .routes
        .add_service(
            EventFeedServiceServer::new(event_feed)
                .max_decoding_message_size(args.max_message_bytes)
                .max_encoding_message_size(args.max_message_bytes),
        )
        .add_service(AuditTrail::server(
            pool.clone(),
            schema,
            service.person_records,
        ));
    let mut policies = service.policies.clone();
    policies.push(feed::POLICY);
    policies.push(audit::service::POLICY);

    let service_names: Vec<&'static str> = policies.iter().map(|p| p.service).collect();
    let (health, health_service) = tonic_health::server::health_reporter();
    db::set_health(&health, &service_names, ServingStatus::NotServing).await;
    tokio::spawn(db::watch_health(
        pool,
        service.migrator,
        health.clone(),
        service_names.clone(),
        service.database.clone(),
        shutdown.child_token(),
    ));
    authenticator.spawn_reload(shutdown.child_token());

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(fallwerk_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| ConfigError {
            setting: "reflection",
            problem: e.to_string(),
        })?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(fallwerk_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| ConfigError {
            setting: "reflection",
            problem: e.to_string(),
        })?;

    let layer = RequestLayer {
        authenticator,
        authorizer: Arc::new(Authorizer::new(&policies)),
        client_certificates: args.tls_client_ca.is_some(),
        admission: Arc::new(Admission::new(args.limits())),
        request_timeout: args.request_timeout(),
    };
    // No `timeout` here: tonic's would drop the call outside the request layer, answering
    // CANCELLED with no metric, log line or span status. The layer bounds each call itself.
    let builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_connection_age(Duration::from_secs(args.max_connection_age_secs))
        .concurrency_limit_per_connection(256);
    if let Some(addr) = args.health_listen {
        serve_health(addr, health_service.clone(), shutdown.clone()).await?;
    }

    let router = builder
        .layer(layer)
        .add_routes(routes)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let addr = listener
        .local_addr()
        .map_or_else(|e| format!("unknown ({e})"), |a| a.to_string());
    tracing::info!(
        service = service.name,
        %addr,
        tls = args.tls_cert.is_some(),
        "gRPC server listening"
    );
    let stop = shutdown.clone();
    let signal = async move {
        stop.cancelled().await;
        // Readiness goes first so Kubernetes stops sending new calls while old ones finish.
        db::set_health(&health, &service_names, ServingStatus::NotServing).await;
        tracing::info!("draining in-flight RPCs");
    };
    let drained: BoxFuture<Result<(), tonic::transport::Error>> = match tls {
        Some(tls) => {
            let period = Duration::from_secs(args.tls_reload_secs);
            tokio::spawn(Arc::clone(&tls).watch(period, shutdown.child_token()));
            let connections = tls.incoming(incoming(listener), shutdown.child_token());
            Box::pin(router.serve_with_incoming_shutdown(connections, signal))
        }
        None => Box::pin(router.serve_with_incoming_shutdown(incoming(listener), signal)),
    };
    let grace = args.shutdown_grace();
    tokio::select! {
        result = drained => {
            result?;
            tracing::info!(service = service.name, "gRPC server stopped");
        }
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "shutdown grace period over; dropping remaining RPCs");
        }
    }
    Ok(())
}

/// Serves `grpc.health.v1` alone, in plaintext, on `addr` until `shutdown`.
async fn serve_health<S>(
    addr: std::net::SocketAddr,
    health: S,
    shutdown: CancellationToken,
) -> Result<(), ConfigError>
where
    S: tower::Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind(addr).await.map_err(|e| ConfigError {
        setting: "HEALTH_LISTEN",
        problem: format!("cannot listen on {addr}: {e}"),
    })?;
    tracing::info!(%addr, "health port listening (plaintext, grpc.health.v1 only)");
    tokio::spawn(async move {
        let served = tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming_shutdown(incoming(listener), shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "health port failed");
        }
    });
    Ok(())
}

/// The TLS settings, read again while serving; `None` only when plaintext was asked for by
/// name.
fn tls_config(args: &ServerArgs) -> Result<Option<Arc<ReloadingTls>>, ConfigError> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        if args.plaintext {
            tracing::warn!(
                "serving gRPC WITHOUT TLS (GRPC_PLAINTEXT): tokens and personal data cross the \
                 network in the clear; only for a developer's machine or behind a mesh that \
                 terminates TLS"
            );
            return Ok(None);
        }
        return Err(ConfigError {
            setting: "TLS_CERT_FILE",
            problem:
                "no TLS certificate: set TLS_CERT_FILE and TLS_KEY_FILE, or GRPC_PLAINTEXT=true \
                      to serve without TLS on purpose"
                    .into(),
        });
    };
    ReloadingTls::load(TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
        client_ca: args.tls_client_ca.clone(),
    })
    .map(Some)
}

/// The DNS name a partner system's client certificate must be valid for.
pub fn partner_certificate_name(partner_id: &str) -> String {
    format!("{partner_id}.partner.fallwerk")
}

/// The DNS name the client certificate of a fallwerk service calling with a `service` token
/// must be valid for: the token's subject under `service.fallwerk`.
pub fn service_certificate_name(subject: &str) -> String {
    format!("{subject}.service.fallwerk")
}

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
    authenticator: Arc<Authenticator>,
    authorizer: Arc<Authorizer>,
    /// Mutual TLS is on: partner systems and services must present their certificates.
    client_certificates: bool,
    admission: Arc<Admission>,
    request_timeout: Duration,
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

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

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
                tracing::Span::current().record("rpc.grpc.status_code", code as i32);
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
fn parse_grpc_timeout(value: &http::HeaderValue) -> Option<Duration> {
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

/// The accepted connections of `listener`, with Nagle off (`tcp_nodelay` on the builder only
/// applies to sockets tonic binds itself): a response's headers, message and trailers go out
/// at once instead of waiting up to 40 ms for the client's delayed ACK.
fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
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
