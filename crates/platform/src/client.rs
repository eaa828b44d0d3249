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
        endpoint = endpoint
            .tls_config(config)
            .map_err(|error| format!("TLS set-up failed: {error}"))?;
    }
    Ok(endpoint.connect_lazy())
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
