//! `fallwerk.feed.v1.EventFeedService`: a service's events from a position on, then live.
//!
//! Each subscription is a task that reads pages of stamped events and sends them into a small
//! bounded channel: when the subscriber reads slowly the channel fills and the task waits, so a
//! slow reader holds one page in memory, not the backlog. When caught up the task sleeps until
//! the sequencer announces new positions (or 5 s pass, when it sends a heartbeat saying how far
//! it has delivered, so a subscriber to rare types moves on too); while events flow, a
//! heartbeat every 5 s still tells the head, for the subscriber's lag.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use fallwerk_proto::feed::{
    AcknowledgeRequest, AcknowledgeResponse, Event, Heartbeat, SubscribeRequest, SubscribeResponse,
    event_feed_service_server::EventFeedService, subscribe_response::Item,
};
use sqlx::{FromRow, PgPool};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use super::retention;
use crate::{
    ApiError, Violations,
    auth::{Caller, token_expired},
};

/// Events read per page.
const PAGE: i64 = 256;
/// Messages buffered per subscription before the reader waits for the client.
const BUFFER: usize = 64;
/// Heartbeat interval while nothing happens.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// The feed of one schema's outbox.
#[derive(Clone)]
pub struct FeedService {
    pool: PgPool,
    schema: &'static str,
    page: Arc<str>,
    head: Arc<str>,
    stamped: watch::Receiver<u64>,
    shutdown: CancellationToken,
}

#[derive(FromRow)]
struct EventRow {
    position: i64,
    event_id: Uuid,
    event_type: String,
    aggregate_id: Uuid,
    payload: Vec<u8>,
    occurred_at: DateTime<Utc>,
    traceparent: String,
}

impl FeedService {
    /// The feed of `schema`, woken by `stamped`, ending its streams on `shutdown`.
    pub fn new(
        pool: PgPool,
        schema: &'static str,
        stamped: watch::Receiver<u64>,
        shutdown: CancellationToken,
    ) -> Self {
        FeedService {
            pool,
            schema,
            page: format!(
                "SELECT position, event_id, event_type, aggregate_id, payload, occurred_at, traceparent
                 FROM {schema}.outbox
                 WHERE position > $1 AND (cardinality($2::text[]) = 0 OR event_type = ANY($2))
                 ORDER BY position LIMIT $3"
            )
            .into(),
            head: format!(
                "SELECT greatest(
                     (SELECT coalesce(max(position), 0) FROM {schema}.outbox),
                     (SELECT through_position FROM {schema}.feed_pruned))"
            )
            .into(),
            stamped,
            shutdown,
        }
    }

    async fn read_page(&self, after: i64, types: &[String]) -> Result<Vec<EventRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.page)))
            .bind(after)
            .bind(types)
            .bind(PAGE)
            .fetch_all(&self.pool)
            .await
    }

    async fn head(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(Arc::clone(&self.head)))
            .fetch_one(&self.pool)
            .await
    }

    /// Sends events after `cursor` until the client goes away, the server shuts down or the
    /// caller's token expires.
    async fn pump(
        self,
        caller: Caller,
        mut cursor: i64,
        types: Vec<String>,
        out: mpsc::Sender<Result<SubscribeResponse, Status>>,
    ) {
        let expired = caller.until_token_expires();
        tokio::pin!(expired);
        let mut stamped = self.stamped.clone();
        let mut caught_up_once = false;
        let mut last_heartbeat = std::time::Instant::now();
        metrics::gauge!("feed_subscriptions", "schema" => self.schema).increment(1.0);
        let reason = loop {
            if caller.expires_at <= Utc::now() {
                let _ = out.send(Err(token_expired())).await;
                break "token expired";
            }
            // Mark the current notification as seen before reading, so one that arrives while
            // reading wakes the next wait instead of being lost.
            stamped.borrow_and_update();
            let page = match self.read_page(cursor, &types).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "feed read failed");
                    let _ = out
                        .send(Err(Status::unavailable(
                            "the feed's database is unavailable; resume later",
                        )))
                        .await;
                    break "database error";
                }
            };
            let full = page.len() as i64 == PAGE;
            for row in page {
                cursor = row.position;
                if out.send(Ok(event_message(row))).await.is_err() {
                    break;
                }
            }
            if out.is_closed() {
                break "client left";
            }
            if full {
                if last_heartbeat.elapsed() >= HEARTBEAT {
                    last_heartbeat = std::time::Instant::now();
                    if !self.send_heartbeat(&out, None).await {
                        break "client left";
                    }
                }
                continue;
            }
            if !caught_up_once {
                caught_up_once = true;
                last_heartbeat = std::time::Instant::now();
                if !self.send_heartbeat(&out, Some((cursor, &types))).await {
                    break "client left";
                }
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => {
                    let _ = out.send(Err(Status::unavailable("the server is shutting down; resume elsewhere"))).await;
                    break "shutdown";
                }
                _ = out.closed() => break "client left",
                () = &mut expired => {
                    let _ = out.send(Err(token_expired())).await;
                    break "token expired";
                }
                changed = stamped.changed() => if changed.is_err() { break "feed closed" },
                _ = tokio::time::sleep(HEARTBEAT) => {
                    last_heartbeat = std::time::Instant::now();
                    if !self.send_heartbeat(&out, Some((cursor, &types))).await {
                        break "client left";
                    }
                }
            }
        };
        metrics::gauge!("feed_subscriptions", "schema" => self.schema).decrement(1.0);
        tracing::debug!(reason, cursor, "feed subscription ended");
    }

    /// Sends the head; whether the client is still there. `caught_up`: the position sent
    /// last and the types taken, when every event up to it was sent: then the head is read
    /// first and, if nothing the subscription takes lies between, the heartbeat says it was
    /// delivered through the head (events stamped later get higher positions). If something
    /// does, no heartbeat: the next page sends it.
    async fn send_heartbeat(
        &self,
        out: &mpsc::Sender<Result<SubscribeResponse, Status>>,
        caught_up: Option<(i64, &[String])>,
    ) -> bool {
        let head_position = match self.head().await {
            Ok(head) => head,
            Err(error) => {
                tracing::warn!(%error, "feed head unavailable");
                return true;
            }
        };
        let delivered_through = match caught_up {
            Some((cursor, types)) => match self.read_page(cursor, types).await {
                Ok(page) if page.is_empty() => head_position,
                Ok(_) => return true,
                Err(error) => {
                    tracing::warn!(%error, "feed read failed");
                    return true;
                }
            },
            None => 0,
        };
        out.send(Ok(SubscribeResponse {
            item: Some(Item::Heartbeat(Heartbeat {
                head_position,
                delivered_through,
            })),
        }))
        .await
        .is_ok()
    }
}

fn event_message(row: EventRow) -> SubscribeResponse {
    SubscribeResponse {
        item: Some(Item::Event(Event {
            position: row.position,
            event_id: row.event_id.to_string(),
            aggregate_id: row.aggregate_id.to_string(),
            payload: Some(prost_types::Any {
                type_url: format!("type.googleapis.com/{}", row.event_type),
                value: row.payload,
            }),
            event_type: row.event_type,
            occur_time: Some(prost_types::Timestamp {
                seconds: row.occurred_at.timestamp(),
                nanos: row.occurred_at.timestamp_subsec_nanos() as i32,
            }),
            traceparent: row.traceparent,
        })),
    }
}

#[tonic::async_trait]
impl EventFeedService for FeedService {
    type SubscribeStream = ReceiverStream<Result<SubscribeResponse, Status>>;

    /// Replays after the requested position, then follows live.
    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = Caller::of(&request)?;
        let request = request.into_inner();
        let mut v = Violations::new();
        if request.after_position < 0 {
            v.add("after_position", "must not be negative");
        }
        if request.event_types.len() > 100 {
            v.add("event_types", "must name at most 100 types");
        }
        for (i, t) in request.event_types.iter().enumerate() {
            if t.is_empty() || t.len() > 200 {
                v.add(
                    format!("event_types[{i}]"),
                    "must be a full protobuf message name",
                );
            }
        }
        v.finish(Some(())).map_err(Status::from)?;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Status::from(ApiError::from(e)))?;
        retention::check_not_pruned(&mut conn, self.schema, request.after_position)
            .await
            .map_err(Status::from)?;
        drop(conn);
        let (out, stream) = mpsc::channel(BUFFER);
        let feed = self.clone();
        tokio::spawn(
            feed.pump(caller, request.after_position, request.event_types, out)
                .instrument(tracing::Span::current()),
        );
        Ok(Response::new(ReceiverStream::new(stream)))
    }

    /// Notes how far the calling subscriber has applied.
    async fn acknowledge(
        &self,
        request: Request<AcknowledgeRequest>,
    ) -> Result<Response<AcknowledgeResponse>, Status> {
        let caller = Caller::of(&request)?;
        let position = request.into_inner().position;
        if position < 0 {
            return Err(ApiError::invalid("position", "must not be negative").into());
        }
        retention::acknowledge(&self.pool, self.schema, &caller.subject, position)
            .await
            .map_err(|e| Status::from(ApiError::from(e)))?;
        Ok(Response::new(AcknowledgeResponse {}))
    }
}
