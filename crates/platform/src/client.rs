//! Channels to fallwerk's gRPC servers, for every client of ours (the CLI, feed subscribers,
//! tests): connect and call timeouts, HTTP/2 keepalive, and TLS for `https://` addresses with
//! the web PKI roots plus an optional CA of the deployment's own; and [`Outbound`], the
//! plumbing of one service's synchronous calls to another.

use std::{future::Future, time::Duration};

use tokio::time::Instant;
use tonic::{
    Code, Status,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri},
};

use crate::{feed::subscriber::TokenFile, telemetry};

/// How long reaching a server may take, so a wrong address fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What TLS a client of ours brings to `https://` addresses beside the web PKI roots.
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// The deployment's own CA, when its servers' certificates come from a private one.
    pub ca: Option<Certificate>,
    /// The client's own certificate and key, for servers with mutual TLS.
    pub identity: Option<Identity>,
}

/// A lazily connecting channel to `addr` (`http://` plaintext, `https://` TLS); an unreachable
/// server shows up as the first call's UNAVAILABLE.
pub fn channel(addr: Uri, tls: &ClientTls) -> Result<Channel, String> {
    Ok(endpoint(addr, tls, None)?.connect_lazy())
}

/// How often [`balanced_channel`] looks its host up again: pods come and go with rollouts and
/// scaling, and a headless Service's DNS answer follows the ready ones.
const RESOLVE_EVERY: Duration = Duration::from_secs(15);

/// A channel that spreads its calls over every address `addr`'s host resolves to (a headless
/// Service's ready pods), each call to the less loaded of two (tower's p2c), and looks the
/// host up again every [`RESOLVE_EVERY`]. For a long-lived client whose calls should not all go
/// to the one pod a ClusterIP connection lands on (partner's snapshot calls). An IP address is
/// one connection, as [`channel`]. TLS checks each pod's certificate for the host's name.
pub fn balanced_channel(addr: Uri, tls: &ClientTls) -> Result<Channel, String> {
    balanced_with(addr, tls, RESOLVE_EVERY, |host, port| async move {
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .map(|found| found.collect())
    })
}

fn balanced_with<R, F>(
    addr: Uri,
    tls: &ClientTls,
    every: Duration,
    resolve: R,
) -> Result<Channel, String>
where
    R: Fn(String, u16) -> F + Send + 'static,
    F: Future<Output = std::io::Result<Vec<std::net::SocketAddr>>> + Send,
{
    let host = addr.host().ok_or("an address without a host")?.to_owned();
    if host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        return channel(addr, tls);
    }
    let scheme = addr.scheme_str().unwrap_or("http").to_owned();
    let port = addr
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let tls = tls.clone();
    let (channel, changes) = Channel::balance_channel(64);
    tokio::spawn(async move {
        let mut known = std::collections::HashSet::new();
        loop {
            match resolve(host.clone(), port).await {
                Ok(found) => {
                    let found: std::collections::HashSet<_> = found.into_iter().collect();
                    let mut sends = Vec::new();
                    for gone in known.difference(&found) {
                        sends.push(tonic::transport::channel::Change::Remove(*gone));
                    }
                    for new in found.difference(&known) {
                        let uri = format!("{scheme}://{new}").parse().expect("an address URI");
                        match endpoint(uri, &tls, Some(&host)) {
                            Ok(endpoint) => sends
                                .push(tonic::transport::channel::Change::Insert(*new, endpoint)),
                            Err(error) => tracing::warn!(%host, %error, "upstream address skipped"),
                        }
                    }
                    for change in sends {
                        if changes.send(change).await.is_err() {
                            return; // the channel is gone
                        }
                    }
                    known = found;
                }
                // Keep the addresses known: a failed lookup says nothing about the pods.
                Err(error) => tracing::warn!(%host, %error, "upstream lookup failed"),
            }
            tokio::select! {
                _ = changes.closed() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
    Ok(channel)
}

/// The endpoint of `addr` with our timeouts, keepalive and TLS; `domain`: the name to check
/// the server's certificate for, when `addr` holds one of its IP addresses.
fn endpoint(addr: Uri, tls: &ClientTls, domain: Option<&str>) -> Result<Endpoint, String> {
    let https = addr.scheme_str() == Some("https");
    let mut endpoint = Endpoint::from(addr)
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .tcp_nodelay(true);
    if https {
        let mut config = ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca) = &tls.ca {
            config = config.ca_certificate(ca.clone());
        }
        if let Some(identity) = &tls.identity {
            config = config.identity(identity.clone());
        }
        if let Some(domain) = domain {
            config = config.domain_name(domain);
        }
        endpoint = endpoint
            .tls_config(config)
            .map_err(|error| format!("TLS set-up failed: {error}"))?;
    }
    Ok(endpoint)
}

/// Synchronous calls from one fallwerk service to another (partner's snapshot from
/// case-plan): the service token (read from its file per call, so rotation is picked up), one
/// deadline for the whole call including retries, the trace context, and retries of
/// UNAVAILABLE only, with backoff and full jitter, never beyond the deadline. Other codes are
/// answered at once: only an unavailable server is worth asking again.
#[derive(Clone)]
pub struct Outbound {
    channel: Channel,
    token: TokenFile,
    deadline: Duration,
}

/// Most attempts of one outbound call.
const ATTEMPTS: u32 = 4;
/// Backoff before the second attempt; doubled for each further one.
const RETRY_BACKOFF: Duration = Duration::from_millis(50);

impl Outbound {
    /// Calls to `channel` presenting the token in `token`, each bounded by `deadline`.
    pub fn new(channel: Channel, token: TokenFile, deadline: Duration) -> Self {
        Outbound {
            channel,
            token,
            deadline,
        }
    }

    /// Runs `call` (a generated client's method on the channel) with `message`, retrying
    /// UNAVAILABLE while the deadline allows: this client's own, or `within` (the deadline of
    /// the call being served) if that comes first, so no work outlives the call that asked.
    pub async fn call<M, R, F, Fut>(
        &self,
        within: std::time::Instant,
        message: M,
        mut call: F,
    ) -> Result<R, Status>
    where
        M: Clone,
        F: FnMut(Channel, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        let give_up = Instant::from_std(within).min(Instant::now() + self.deadline);
        if give_up <= Instant::now() {
            return Err(Status::deadline_exceeded(
                "the call's deadline passed before another service could be asked",
            ));
        }
        let mut backoff = RETRY_BACKOFF;
        let mut attempt = 1;
        loop {
            let remaining = give_up.saturating_duration_since(Instant::now());
            let request = self.request(message.clone(), remaining)?;
            match call(self.channel.clone(), request).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if status.code() == Code::Unavailable && attempt < ATTEMPTS => {
                    let wait = backoff.mul_f64(fastrand::f64());
                    if Instant::now() + wait >= give_up {
                        return Err(status);
                    }
                    metrics::counter!("outbound_retries_total").increment(1);
                    tokio::time::sleep(wait).await;
                    backoff *= 2;
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }

    fn request<M>(&self, message: M, remaining: Duration) -> Result<tonic::Request<M>, Status> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(remaining);
        let bearer = self
            .token
            .bearer()
            .map_err(|e| Status::unavailable(format!("service token: {e}")))?;
        request.metadata_mut().insert("authorization", bearer);
        if let Ok(traceparent) = telemetry::current_traceparent().parse() {
            request.metadata_mut().insert("traceparent", traceparent);
        }
        Ok(request)
    }
}

/// A channel of fallwerk's own clients (the CLI, the load generator) that asks again what is
/// safe to ask again when the service was unavailable (restarting, shedding load, its
/// database away) or out of its own time: reads (`Get*`, `List*`, `Search*`,
/// `VerifyAuditTrail`), and requests marked [`Idempotent`] (their `request_id` makes the
/// server answer a repeat with the first answer). Up to [`SAFE_ATTEMPTS`] times, waiting
/// 100 ms doubled each time with half of it jittered (so about 1.5 s at least in all, long
/// enough for a restart), never past the call's `grpc-timeout`. A write without a request id
/// is never sent twice: it may have taken effect before its answer was lost.
#[derive(Clone)]
pub struct SafeRetries {
    inner: Channel,
}

impl SafeRetries {
    /// Safe calls on `channel` retried.
    pub fn new(channel: Channel) -> Self {
        SafeRetries { inner: channel }
    }
}

/// Marks a request (in its extensions) whose `request_id` makes a repeat harmless, so that
/// [`SafeRetries`] may send it again.
#[derive(Clone, Copy, Debug)]
pub struct Idempotent;

/// Whether the gRPC method at `path` (`/package.Service/Method`) only reads.
fn is_read(path: &str) -> bool {
    let method = path.rsplit('/').next().unwrap_or_default();
    ["Get", "List", "Search"]
        .iter()
        .any(|prefix| method.starts_with(prefix))
        || method == "VerifyAuditTrail"
}

/// Most attempts of one call through [`SafeRetries`].
const SAFE_ATTEMPTS: u32 = 6;
/// Backoff before a call's second attempt; doubled for each further one.
const SAFE_BACKOFF: Duration = Duration::from_millis(100);

type HttpRequest = http::Request<tonic::body::Body>;
type HttpResponse = http::Response<tonic::body::Body>;

impl tower::Service<HttpRequest> for SafeRetries {
    type Response = HttpResponse;
    type Error = tonic::transport::Error;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<HttpResponse, tonic::transport::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        // The readied channel serves this call; the clone left behind is readied next time.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        if !is_read(request.uri().path()) && request.extensions().get::<Idempotent>().is_none() {
            return Box::pin(tower::Service::call(&mut inner, request));
        }
        Box::pin(async move {
            use http_body_util::BodyExt;
            let started = Instant::now();
            let budget = request
                .headers()
                .get("grpc-timeout")
                .and_then(crate::server::request::parse_grpc_timeout)
                .unwrap_or(Duration::from_secs(10));
            let (parts, body) = request.into_parts();
            // A unary request is small; kept to be sent again.
            let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
                let request = http::Request::from_parts(parts, tonic::body::Body::empty());
                return tower::ServiceExt::oneshot(inner, request).await;
            };
            let mut backoff = SAFE_BACKOFF;
            let mut attempt = 1;
            loop {
                let remaining = budget.saturating_sub(started.elapsed());
                let mut again = http::Request::builder()
                    .method(parts.method.clone())
                    .uri(parts.uri.clone())
                    .version(parts.version)
                    .body(tonic::body::Body::new(http_body_util::Full::new(
                        body.clone(),
                    )))
                    .expect("the parts of a valid request");
                *again.headers_mut() = parts.headers.clone();
                if let Ok(timeout) = format!("{}m", remaining.as_millis().max(1)).parse() {
                    again.headers_mut().insert("grpc-timeout", timeout);
                }
                let answer = tower::ServiceExt::oneshot(inner.clone(), again).await;
                let retryable = match &answer {
                    Err(_) => true, // no connection: nothing reached the server
                    Ok(response) => matches!(
                        response
                            .headers()
                            .get("grpc-status")
                            .and_then(|v| v.to_str().ok()),
                        Some("14" | "4") // UNAVAILABLE, DEADLINE_EXCEEDED (the server's own limit)
                    ),
                };
                let wait = backoff / 2 + (backoff / 2).mul_f64(fastrand::f64());
                if !retryable || attempt >= SAFE_ATTEMPTS || started.elapsed() + wait >= budget {
                    return answer;
                }
                tokio::time::sleep(wait).await;
                backoff *= 2;
                attempt += 1;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A health server answering `probe` with `status`; its address.
    async fn health_server(status: tonic_health::ServingStatus) -> std::net::SocketAddr {
        let (reporter, service) = tonic_health::server::health_reporter();
        reporter.set_service_status("probe", status).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        addr
    }

    /// The statuses 40 calls through `channel` were answered with.
    async fn answers(channel: &Channel) -> std::collections::HashSet<i32> {
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            let request = tonic_health::pb::HealthCheckRequest {
                service: "probe".into(),
            };
            seen.insert(
                client
                    .check(request)
                    .await
                    .expect("answered")
                    .into_inner()
                    .status,
            );
        }
        seen
    }

    #[tokio::test]
    async fn a_balanced_channel_spreads_calls_over_every_address_and_follows_the_lookups() {
        use tonic_health::ServingStatus;
        let serving = health_server(ServingStatus::Serving).await;
        let not_serving = health_server(ServingStatus::NotServing).await;
        // The name resolves to both pods, then (a pod gone from the headless Service) to one.
        let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = lookups.clone();
        let channel = balanced_with(
            "http://upstream-headless:50052".parse().expect("uri"),
            &ClientTls::default(),
            Duration::from_millis(200),
            move |host, port| {
                assert_eq!((host.as_str(), port), ("upstream-headless", 50052));
                let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    Ok(if n < 3 {
                        vec![serving, not_serving]
                    } else {
                        vec![serving]
                    })
                }
            },
        )
        .expect("channel");
        assert_eq!(answers(&channel).await.len(), 2, "both pods answer");
        while lookups.load(std::sync::atomic::Ordering::SeqCst) < 5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after = answers(&channel).await;
        assert_eq!(after.len(), 1, "only the pod still resolved: {after:?}");
        assert!(after.contains(&(ServingStatus::Serving as i32)));
    }

    #[test]
    fn only_reads_are_asked_again() {
        assert!(is_read("/fallwerk.intake.v1.IntakeService/GetApplicant"));
        assert!(is_read(
            "/fallwerk.caseplan.v1.CasePlanService/ListDueItems"
        ));
        assert!(is_read(
            "/fallwerk.intake.v1.IntakeService/SearchApplicants"
        ));
        assert!(!is_read("/fallwerk.intake.v1.IntakeService/RegisterVisit"));
        assert!(!is_read(
            "/fallwerk.intake.v1.IntakeService/CreateApplicant"
        ));
        assert!(!is_read("/fallwerk.caseplan.v1.CasePlanService/UpdateCase"));
    }
}
