//! gRPC server start-up and shutdown, the same for every service, in this one module (so a
//! later move from tonic to the `grpc` crate touches one place).
//!
//! A server hosts the service's own gRPC services plus the standard health service (status
//! per service following the database) and reflection (`v1` and `v1alpha`). Every request
//! passes one [`RequestLayer`]: it joins the caller's trace, authenticates and authorizes,
//! admits the call under the service's overload limits ([`crate::admission`]), bounds it by its
//! deadline, and counts and times it. On shutdown health turns NOT_SERVING first, then
//! in-flight RPCs get a bounded grace period.

use std::{pin::Pin, sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::{body::Body, service::Routes};
use tonic_health::ServingStatus;

use fallwerk_proto::feed::event_feed_service_server::EventFeedServiceServer;

pub(crate) mod request;

pub use request::{RequestLayer, RequestService};

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

use crate::{
    admission::Admission,
    audit::{
        self,
        chain::Chainer,
        service::{AuditTrail, PersonRecords},
    },
    auth::{AccessPolicy, Authenticator, Authorizer},
    config::{ConfigError, ServerArgs},
    db,
    feed::{self, notify::FeedSignals, sequencer::Sequencer, service::FeedService},
    migrate::Migrator,
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
    if args.plaintext && args.tls_cert.is_some() {
        return Err(ConfigError {
            setting: "GRPC_PLAINTEXT",
            problem: "plaintext asked for beside TLS_CERT_FILE: choose one".into(),
        });
    }
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

/// The accepted connections of `listener`, with Nagle off (`tcp_nodelay` on the builder only
/// applies to sockets tonic binds itself): a response's headers, message and trailers go out
/// at once instead of waiting up to 40 ms for the client's delayed ACK.
fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)))
}
