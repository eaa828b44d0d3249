//! The subscriber a consuming service runs per upstream feed.
//!
//! - Exactly-once effect: events are applied in the same transaction that advances the
//!   subscription's cursor in `<schema>.feed_cursors` (the events already received, up to 128,
//!   share one transaction); the cursor only moves forward, so an event delivered twice
//!   (at-least-once delivery) finds the cursor past it and is skipped.
//! - Resumes from its cursor after its own restart; reconnects with exponential backoff and
//!   jitter while the upstream is away.
//! - Continues the trace the event carries, so a trace shows producer and consumer.
//! - An event the handler refuses for good (a poison payload, a bug) is never skipped silently:
//!   it is parked in `<schema>.feed_parked` with its error, logged and counted, and the
//!   subscription goes on; [`Subscriber::replay_parked`] applies parked events again once fixed.

use std::{future::Future, path::PathBuf, sync::Arc, time::Duration};

use fallwerk_proto::feed::{
    AcknowledgeRequest, Event, SubscribeRequest, event_feed_service_client::EventFeedServiceClient,
    subscribe_response::Item,
};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tracing::Instrument;

use super::notify::sleep_or_shutdown;
use crate::{client, telemetry};

/// Why an event was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event can never be applied as it is (undecodable payload, violated invariant): park it.
    #[error("cannot apply: {0}")]
    Poison(String),
    /// A passing failure (database unavailable): retry later.
    #[error("transient failure: {0}")]
    Transient(String),
}

impl From<sqlx::Error> for ApplyError {
    /// Data and integrity errors (SQLSTATE classes 22 and 23) will fail again on retry: poison.
    /// Everything else may pass.
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("22") || c.starts_with("23")) =>
            {
                ApplyError::Poison(error.to_string())
            }
            _ => ApplyError::Transient(error.to_string()),
        }
    }
}

impl From<prost::DecodeError> for ApplyError {
    fn from(error: prost::DecodeError) -> Self {
        ApplyError::Poison(format!("payload does not decode: {error}"))
    }
}

/// How a consuming service applies one upstream's events. `apply` runs inside the
/// transaction that also advances the cursor; it must not commit.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` to the service's own tables.
    fn apply(
        &self,
        conn: &mut PgConnection,
        event: &Event,
    ) -> impl Future<Output = Result<(), ApplyError>> + Send;
}

/// A bearer token read from a file (a mounted Kubernetes Secret), read again on every
/// (re)connect so a rotated token is picked up.
#[derive(Debug, Clone)]
pub struct TokenFile(pub PathBuf);

impl TokenFile {
    pub(crate) fn bearer(&self) -> Result<MetadataValue<tonic::metadata::Ascii>, String> {
        let token =
            std::fs::read_to_string(&self.0).map_err(|e| format!("{}: {e}", self.0.display()))?;
        format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| "the token file holds characters a header cannot carry".to_owned())
    }
}

/// Why applying stopped the session (it is retried after a reconnect).
enum Failure {
    Database(sqlx::Error),
    Transient(String),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Database(error)
    }
}

/// One subscription of a consuming service to an upstream feed.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Name of the cursor and label of the metrics, e.g. `intake`.
    pub name: String,
    /// The upstream's gRPC address, e.g. `http://intake:50051`.
    pub upstream: String,
    /// Event types wanted; empty for all.
    pub event_types: Vec<String>,
    /// The service token.
    pub token: TokenFile,
    /// The TLS brought to `https://` upstreams: the deployment's CA, the service's own
    /// certificate.
    pub tls: crate::client::ClientTls,
    /// The consuming service's schema (where cursor and parked events live).
    pub schema: &'static str,
}

/// Runs a [`Subscription`] with its handler.
pub struct Subscriber<H> {
    subscription: Subscription,
    pool: PgPool,
    handler: Arc<H>,
    sql: Sql,
    /// The position applied so far, for readers in this process ([`Subscriber::position`]).
    applied: watch::Sender<i64>,
}

struct Sql {
    ensure_cursor: Arc<str>,
    cursor: Arc<str>,
    advance: Arc<str>,
    park: Arc<str>,
    parked: Arc<str>,
    replayed: Arc<str>,
    still_failing: Arc<str>,
    waiting: Arc<str>,
}

/// Most events applied in one transaction.
const BATCH: usize = 128;
/// How often a subscriber acknowledges its position while it moves.
const ACK_EVERY: Duration = Duration::from_secs(5);

/// Backoff between reconnects.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

impl<H: EventHandler> Subscriber<H> {
    /// A subscriber writing to `pool`.
    pub fn new(subscription: Subscription, pool: PgPool, handler: Arc<H>) -> Self {
        let s = subscription.schema;
        let sql = Sql {
            ensure_cursor: format!(
                "INSERT INTO {s}.feed_cursors (subscription, position) VALUES ($1, 0) ON CONFLICT DO NOTHING"
            ).into(),
            cursor: format!("SELECT position FROM {s}.feed_cursors WHERE subscription = $1").into(),
            advance: format!(
                "UPDATE {s}.feed_cursors SET position = $2, updated_at = now()
                 WHERE subscription = $1 AND position < $2"
            ).into(),
            park: format!(
                "INSERT INTO {s}.feed_parked (subscription, position, event_id, event_type, event, error)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (subscription, position) DO NOTHING"
            ).into(),
            parked: format!(
                "SELECT id, event FROM {s}.feed_parked
                 WHERE subscription = $1 AND replayed_at IS NULL ORDER BY id FOR UPDATE"
            ).into(),
            replayed: format!("UPDATE {s}.feed_parked SET replayed_at = now() WHERE id = $1").into(),
            still_failing: format!("UPDATE {s}.feed_parked SET error = $2 WHERE id = $1").into(),
            waiting: format!(
                "SELECT count(*) FROM {s}.feed_parked WHERE subscription = $1 AND replayed_at IS NULL"
            ).into(),
        };
        Subscriber {
            subscription,
            pool,
            handler,
            sql,
            applied: watch::Sender::new(0),
        }
    }

    /// Follows the position applied so far (committed), as the subscriber advances it.
    pub fn position(&self) -> watch::Receiver<i64> {
        self.applied.subscribe()
    }

    /// Follows the upstream until shutdown, reconnecting as long as it takes.
    pub async fn run(self, shutdown: CancellationToken) {
        let name = self.subscription.name.clone();
        let mut backoff = BACKOFF_START;
        loop {
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return,
                outcome = self.session(&mut backoff) => outcome,
            };
            if let Err(error) = outcome {
                metrics::counter!("feed_subscription_reconnects_total", "subscription" => name.clone()).increment(1);
                tracing::warn!(subscription = %name, %error, retry_in = ?backoff, "feed subscription interrupted");
            }
            // Full jitter: replicas that lost the upstream together do not return together.
            let wait = backoff.mul_f64(0.5 + fastrand::f64() * 0.5);
            if sleep_or_shutdown(wait, &shutdown).await {
                return;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// The position applied so far.
    pub async fn cursor(&self) -> Result<i64, sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.sql.ensure_cursor)))
            .bind(&self.subscription.name)
            .execute(&self.pool)
            .await?;
        sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&self.sql.cursor)))
            .bind(&self.subscription.name)
            .fetch_one(&self.pool)
            .await
    }

    /// One connection: subscribe after the cursor and apply until the stream ends.
    async fn session(&self, backoff: &mut Duration) -> Result<(), String> {
        let name = self.subscription.name.as_str();
        let mut cursor = self
            .cursor()
            .await
            .map_err(|e| format!("reading the cursor: {e}"))?;
        let upstream = self
            .subscription
            .upstream
            .parse()
            .map_err(|e| format!("upstream address: {e}"))?;
        let channel = client::channel(upstream, &self.subscription.tls)?;
        let mut request = tonic::Request::new(SubscribeRequest {
            after_position: cursor,
            event_types: self.subscription.event_types.clone(),
        });
        request
            .metadata_mut()
            .insert("authorization", self.subscription.token.bearer()?);
        let mut feed = EventFeedServiceClient::new(channel);
        let mut stream = feed
            .clone()
            .subscribe(request)
            .await
            .map_err(|s| format!("subscribe refused: {}: {}", s.code(), s.message()))?
            .into_inner();
        self.applied
            .send_if_modified(|applied| raise(applied, cursor));
        tracing::info!(subscription = name, cursor, "feed subscription connected");
        self.publish_parked().await;
        let mut acknowledged: Option<(i64, std::time::Instant)> = None;
        loop {
            self.acknowledge(&mut feed, cursor, &mut acknowledged).await;
            let message = match stream.message().await {
                Ok(Some(message)) => message,
                Ok(None) => return Err("the upstream ended the stream".into()),
                Err(status) => {
                    return Err(format!(
                        "stream broke: {}: {}",
                        status.code(),
                        status.message()
                    ));
                }
            };
            *backoff = BACKOFF_START;
            match message.item {
                Some(Item::Heartbeat(heartbeat)) => {
                    // Nothing this subscription takes lies up to there: move past it, so a
                    // subscription to rare types resumes from there and shows no lag.
                    if heartbeat.delivered_through > cursor {
                        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.sql.advance)))
                            .bind(name)
                            .bind(heartbeat.delivered_through)
                            .execute(&self.pool)
                            .await
                            .map_err(|e| format!("moving the cursor: {e}"))?;
                        cursor = heartbeat.delivered_through;
                        self.applied
                            .send_if_modified(|applied| raise(applied, cursor));
                        metrics::gauge!("feed_subscription_position", "subscription" => name.to_owned())
                            .set(cursor as f64);
                    }
                    let lag = (heartbeat.head_position - cursor).max(0);
                    metrics::gauge!("feed_subscription_lag", "subscription" => name.to_owned())
                        .set(lag as f64);
                    self.publish_parked().await;
                }
                Some(Item::Event(event)) => {
                    // Whatever else has already arrived goes into the same transaction: one
                    // commit for many events is what lets a subscriber keep up with a burst.
                    let mut batch = vec![event];
                    while batch.len() < BATCH {
                        // A zero timeout polls once: take only what is buffered.
                        match tokio::time::timeout(Duration::ZERO, stream.message()).await {
                            Ok(Ok(Some(next))) => match next.item {
                                Some(Item::Event(event)) => batch.push(event),
                                _ => break,
                            },
                            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
                        }
                    }
                    cursor = self.apply_batch(&batch).await?;
                    self.applied
                        .send_if_modified(|applied| raise(applied, cursor));
                    metrics::gauge!("feed_subscription_position", "subscription" => name.to_owned())
                        .set(cursor as f64);
                }
                None => {}
            }
        }
    }

    /// Tells the upstream how far this subscriber has applied, every few seconds while the
    /// cursor moves, so its feed keeps no more than needed. A failure is only logged: the
    /// upstream then keeps events longer.
    async fn acknowledge(
        &self,
        feed: &mut EventFeedServiceClient<tonic::transport::Channel>,
        cursor: i64,
        last: &mut Option<(i64, std::time::Instant)>,
    ) {
        if last.is_some_and(|(position, at)| position == cursor || at.elapsed() < ACK_EVERY) {
            return;
        }
        let Ok(bearer) = self.subscription.token.bearer() else {
            return;
        };
        let mut request = tonic::Request::new(AcknowledgeRequest { position: cursor });
        request.metadata_mut().insert("authorization", bearer);
        self.publish_parked().await;
        match feed.acknowledge(request).await {
            Ok(_) => *last = Some((cursor, std::time::Instant::now())),
            Err(status) => tracing::debug!(
                subscription = self.subscription.name.as_str(),
                code = ?status.code(),
                "acknowledging the feed position failed"
            ),
        }
    }

    /// Publishes how many parked events wait for a replay (`feed_parked_events`): on connecting,
    /// on each heartbeat and with each acknowledgement, so the figure follows a replay by
    /// `<service> feed replay-parked` in another process and survives a restart (unlike
    /// `feed_parked_events_total`, which counts this process's parks).
    async fn publish_parked(&self) {
        let waiting: Result<i64, _> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&self.sql.waiting)))
                .bind(&self.subscription.name)
                .fetch_one(&self.pool)
                .await;
        if let Ok(waiting) = waiting {
            metrics::gauge!("feed_parked_events", "subscription" => self.subscription.name.clone())
                .set(waiting as f64);
        }
    }

    /// Applies `events` and advances the cursor in one transaction; a poison event is parked
    /// in the same transaction. Returns the new cursor.
    async fn apply_batch(&self, events: &[Event]) -> Result<i64, String> {
        let name = self.subscription.name.as_str();
        let started = std::time::Instant::now();
        let result = async {
            let mut tx = self.pool.begin().await?;
            for event in events {
                let span = tracing::info_span!(
                    "feed.apply",
                    otel.kind = "consumer",
                    subscription = name,
                    event_type = %event.event_type,
                    event_id = %event.event_id,
                    position = event.position,
                    trace_id = tracing::field::Empty,
                );
                telemetry::continue_trace_from(&span, &event.traceparent);
                span.record("trace_id", telemetry::trace_id_of(&span).as_str());
                self.apply_one(&mut tx, event).instrument(span).await?;
            }
            tx.commit().await?;
            Ok::<_, Failure>(())
        }
        .await;
        metrics::histogram!("feed_apply_seconds", "subscription" => name.to_owned())
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                metrics::counter!("feed_events_applied_total", "subscription" => name.to_owned())
                    .increment(events.len() as u64);
                Ok(events.last().map(|e| e.position).unwrap_or_default())
            }
            Err(Failure::Database(e)) => Err(format!("applying events: database: {e}")),
            Err(Failure::Transient(reason)) => Err(format!("applying events: {reason}")),
        }
    }

    /// One event inside the batch's transaction: advance the cursor past it, apply it in a
    /// savepoint, or undo just that savepoint and park the event.
    async fn apply_one(&self, tx: &mut PgConnection, event: &Event) -> Result<(), Failure> {
        let name = self.subscription.name.as_str();
        let advanced = sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.sql.advance)))
            .bind(name)
            .bind(event.position)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if advanced == 0 {
            // Already applied: a redelivery after a reconnect.
            metrics::counter!("feed_events_redelivered_total", "subscription" => name.to_owned())
                .increment(1);
            return Ok(());
        }
        let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
        match self.handler.apply(&mut savepoint, event).await {
            Ok(()) => {
                savepoint.commit().await?;
                Ok(())
            }
            Err(ApplyError::Poison(reason)) => {
                savepoint.rollback().await?;
                sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.sql.park)))
                    .bind(name)
                    .bind(event.position)
                    .bind(&event.event_id)
                    .bind(&event.event_type)
                    .bind(event.encode_to_vec())
                    .bind(&reason)
                    .execute(&mut *tx)
                    .await?;
                metrics::counter!("feed_apply_errors_total", "subscription" => name.to_owned(), "kind" => "poison").increment(1);
                metrics::counter!("feed_parked_events_total", "subscription" => name.to_owned())
                    .increment(1);
                tracing::error!(
                    subscription = name,
                    event_id = %event.event_id,
                    event_type = %event.event_type,
                    position = event.position,
                    %reason,
                    "event parked: it cannot be applied; inspect feed_parked and replay once fixed"
                );
                Ok(())
            }
            Err(ApplyError::Transient(reason)) => {
                metrics::counter!("feed_apply_errors_total", "subscription" => name.to_owned(), "kind" => "transient").increment(1);
                Err(Failure::Transient(reason))
            }
        }
    }

    /// Applies parked events again, oldest first (after the handler or the data was fixed).
    /// Returns how many were applied and how many still fail.
    pub async fn replay_parked(&self) -> Result<(usize, usize), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let parked: Vec<(i64, Vec<u8>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.sql.parked)))
                .bind(&self.subscription.name)
                .fetch_all(&mut *tx)
                .await?;
        let (mut applied, mut failing) = (0, 0);
        for (id, bytes) in parked {
            let outcome = match Event::decode(bytes.as_slice()) {
                Ok(event) => {
                    let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                    match self.handler.apply(&mut savepoint, &event).await {
                        Ok(()) => savepoint.commit().await.map(|_| Ok(()))?,
                        Err(e) => savepoint.rollback().await.map(|_| Err(e.to_string()))?,
                    }
                }
                Err(e) => Err(format!("stored event does not decode: {e}")),
            };
            match outcome {
                Ok(()) => {
                    sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.sql.replayed)))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    applied += 1;
                }
                Err(error) => {
                    sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.sql.still_failing)))
                        .bind(id)
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                    failing += 1;
                }
            }
        }
        tx.commit().await?;
        Ok((applied, failing))
    }
}

/// Moves `applied` up to `to` (never down); whether it moved.
fn raise(applied: &mut i64, to: i64) -> bool {
    let moved = to > *applied;
    if moved {
        *applied = to;
    }
    moved
}
