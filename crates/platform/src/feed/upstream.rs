//! The feeds a service consumes. The service declares them ([`Feed::new`]: which upstream,
//! which event types, which handler); configuration says where each upstream is
//! (`UPSTREAMS=intake=http://intake:50051`) and which token and CA to use; the platform runs
//! one [`Subscriber`] per feed beside the server until shutdown.

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Identity};

use super::subscriber::{EventHandler, Subscriber, Subscription, TokenFile};
use crate::{
    ApiError,
    client::{self, ClientTls, Outbound},
    config::{ConfigError, FeedArgs},
};

/// Starts a feed's subscriber: the position it has applied, and the task to run.
type Run = Box<
    dyn FnOnce(
            Subscription,
            PgPool,
            CancellationToken,
        ) -> (
            watch::Receiver<i64>,
            Pin<Box<dyn Future<Output = ()> + Send>>,
        ) + Send,
>;

/// Applies a feed's parked events again with its handler (`<service> feed replay-parked`):
/// how many were applied, how many still fail.
type Replay = Box<
    dyn Fn(
            PgPool,
            &'static str,
        ) -> Pin<Box<dyn Future<Output = sqlx::Result<(usize, usize)>> + Send>>
        + Send
        + Sync,
>;

/// One upstream feed a service consumes.
pub struct Feed {
    upstream: &'static str,
    event_types: Vec<String>,
    run: Run,
    replay: Replay,
}

impl Feed {
    /// The feed of `upstream` (its name in `UPSTREAMS`, its cursor and metrics label), limited
    /// to `event_types`, applied by `handler`.
    pub fn new<H: EventHandler>(
        upstream: &'static str,
        event_types: Vec<String>,
        handler: H,
    ) -> Self {
        let handler = Arc::new(handler);
        let replaying = Arc::clone(&handler);
        Feed {
            upstream,
            event_types,
            run: Box::new(move |subscription, pool, shutdown| {
                let subscriber = Subscriber::new(subscription, pool, handler);
                (subscriber.position(), Box::pin(subscriber.run(shutdown)))
            }),
            replay: Box::new(move |pool, schema| {
                // Replaying reads the parked rows and applies them; it dials no upstream.
                let subscription = Subscription {
                    name: upstream.into(),
                    upstream: String::new(),
                    event_types: Vec::new(),
                    token: TokenFile(std::path::PathBuf::new()),
                    tls: ClientTls::default(),
                    schema,
                };
                let subscriber = Subscriber::new(subscription, pool, Arc::clone(&replaying));
                Box::pin(async move { subscriber.replay_parked().await })
            }),
        }
    }

    /// Applies this feed's parked events in `schema` again, oldest first: how many were
    /// applied, how many still fail (their error and attempt count updated).
    pub async fn replay_parked(
        &self,
        pool: PgPool,
        schema: &'static str,
    ) -> sqlx::Result<(usize, usize)> {
        (self.replay)(pool, schema).await
    }

    /// The upstream's name.
    pub fn upstream(&self) -> &'static str {
        self.upstream
    }
}

/// How far this process has applied each upstream's feed, for reads that must see a change
/// the caller made upstream a moment ago (read-your-writes across services).
#[derive(Clone, Default)]
pub struct UpstreamPositions(Arc<HashMap<&'static str, watch::Receiver<i64>>>);

impl UpstreamPositions {
    /// Waits until `upstream`'s feed is applied up to `position` (0: no wait), at most
    /// `limit`; UNAVAILABLE (retry) when it is not reached in time.
    pub async fn wait_for(
        &self,
        upstream: &str,
        position: i64,
        limit: Duration,
    ) -> Result<(), ApiError> {
        if position <= 0 {
            return Ok(());
        }
        let mut applied = self
            .0
            .get(upstream)
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("no feed of {upstream} is consumed")))?;
        match tokio::time::timeout(limit, applied.wait_for(|p| *p >= position)).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                metrics::counter!("feed_read_your_writes_timeouts_total", "subscription" => upstream.to_owned())
                    .increment(1);
                Err(ApiError::Unavailable(format!(
                    "{upstream}'s change at feed position {position} has not arrived here yet; retry"
                )))
            }
        }
    }
}

/// Starts a subscriber per feed, writing into `schema` on `pool`, until `shutdown`; their
/// tasks and positions. A feed whose upstream is not configured, or feeds without a service
/// token, are configuration errors: a consumer that silently consumes nothing would look
/// healthy and be wrong.
pub fn start(
    feeds: Vec<Feed>,
    args: &FeedArgs,
    schema: &'static str,
    pool: &PgPool,
    shutdown: &CancellationToken,
) -> Result<(Vec<JoinHandle<()>>, UpstreamPositions), ConfigError> {
    if feeds.is_empty() {
        return Ok((Vec::new(), UpstreamPositions::default()));
    }
    let token = args.service_token_file.clone().ok_or_else(|| ConfigError {
        setting: "SERVICE_TOKEN_FILE",
        problem: "this service consumes upstream feeds and needs a service token".into(),
    })?;
    let tls = client_tls(args)?;
    let mut tasks = Vec::with_capacity(feeds.len());
    let mut positions = HashMap::with_capacity(feeds.len());
    for feed in feeds {
        let upstream = args.address_of(feed.upstream).ok_or_else(|| ConfigError {
            setting: "UPSTREAMS",
            problem: format!(
                "this service consumes the feed of `{0}`; give its address as `{0}=http://host:port`",
                feed.upstream
            ),
        })?;
        let subscription = Subscription {
            name: feed.upstream.into(),
            upstream: upstream.into(),
            event_types: feed.event_types,
            token: TokenFile(token.clone()),
            tls: tls.clone(),
            schema,
        };
        let (position, run) = (feed.run)(subscription, pool.clone(), shutdown.clone());
        positions.insert(feed.upstream, position);
        tasks.push(tokio::spawn(run));
    }
    Ok((tasks, UpstreamPositions(Arc::new(positions))))
}

/// Synchronous clients of the configured upstreams (`UPSTREAMS`, `SERVICE_TOKEN_FILE`,
/// `UPSTREAM_CA_FILE`), for a service that calls another one directly.
#[derive(Clone, Default)]
pub struct UpstreamClients {
    upstreams: Vec<(String, String)>,
    token: Option<TokenFile>,
    tls: ClientTls,
}

impl UpstreamClients {
    /// The clients `args` configure.
    pub fn from_args(args: &FeedArgs) -> Result<Self, ConfigError> {
        Ok(UpstreamClients {
            upstreams: args.upstreams.clone(),
            token: args.service_token_file.clone().map(TokenFile),
            tls: client_tls(args)?,
        })
    }

    /// Calls to upstream `name` bounded by `deadline`, spread over the addresses its name
    /// resolves to (a headless Service's pods); `None` when it or the token is not configured.
    pub fn outbound(&self, name: &str, deadline: Duration) -> Option<Outbound> {
        let (_, url) = self.upstreams.iter().find(|(n, _)| n == name)?;
        let channel = client::balanced_channel(url.parse().ok()?, &self.tls).ok()?;
        Some(Outbound::new(channel, self.token.clone()?, deadline))
    }
}

/// The TLS the service brings to its upstreams: the deployment's CA, its own certificate.
fn client_tls(args: &FeedArgs) -> Result<ClientTls, ConfigError> {
    let read = |setting: &'static str, path: &std::path::PathBuf| {
        std::fs::read(path).map_err(|e| ConfigError {
            setting,
            problem: format!("{}: {e}", path.display()),
        })
    };
    let ca = args
        .upstream_ca_file
        .as_ref()
        .map(|path| read("UPSTREAM_CA_FILE", path).map(Certificate::from_pem))
        .transpose()?;
    let identity = match (&args.upstream_cert_file, &args.upstream_key_file) {
        (Some(cert), Some(key)) => Some(Identity::from_pem(
            read("UPSTREAM_CERT_FILE", cert)?,
            read("UPSTREAM_KEY_FILE", key)?,
        )),
        _ => None,
    };
    Ok(ClientTls { ca, identity })
}
