//! Event feeds between services: intake's live feed read by a real subscriber into a
//! consumer's own database, as case-plan and partner will.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use fallwerk_intake::SERVICE;
use fallwerk_platform::{
    auth::Role,
    feed::subscriber::{ApplyError, EventHandler, Subscriber, Subscription, TokenFile},
    migrate::{Migration, Migrator},
    outbox::Outbox,
};
use fallwerk_proto::{
    feed::{Event, SubscribeRequest, event_feed_service_client::EventFeedServiceClient},
    intake as pb,
};
use fallwerk_tests::{Bearer, IntakeClient, ServiceApp, TestDatabase, service_token_file, token};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The consumer's own schema: what it applied, with the trace it applied it in.
const CONSUMER: Migrator = Migrator::new(
    "consumer",
    &[Migration {
        id: "0001_applied",
        sql: "CREATE TABLE consumer.applied (
                  event_id   uuid PRIMARY KEY,
                  position   bigint NOT NULL,
                  event_type text NOT NULL,
                  trace_id   text NOT NULL
              );",
    }],
);

/// Records every event once; a second apply of the same event violates the primary key,
/// which the subscriber would park, so "nothing parked" proves "nothing applied twice".
/// Payloads of intake's types must decode, unless told to accept anything (the "fix" a
/// replay of parked events needs).
#[derive(Default)]
struct Recorder {
    accept_undecodable: AtomicBool,
}

impl EventHandler for Recorder {
    async fn apply(&self, conn: &mut PgConnection, event: &Event) -> Result<(), ApplyError> {
        let payload = event
            .payload
            .as_ref()
            .map(|p| p.value.as_slice())
            .unwrap_or_default();
        if event.event_type == "fallwerk.intake.v1.CaseOpened"
            && !self.accept_undecodable.load(Ordering::SeqCst)
        {
            pb::CaseOpened::decode(payload)?;
        }
        let trace_id = fallwerk_platform::telemetry::trace_id_of(&tracing::Span::current());
        sqlx::query("INSERT INTO consumer.applied (event_id, position, event_type, trace_id) VALUES ($1, $2, $3, $4)")
            .bind(Uuid::parse_str(&event.event_id).map_err(|e| ApplyError::Poison(e.to_string()))?)
            .bind(event.position)
            .bind(&event.event_type)
            .bind(trace_id)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A consuming service: its own database, and a subscriber to intake's feed.
struct Consumer {
    pool: PgPool,
    handler: Arc<Recorder>,
    subscription: Subscription,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Consumer {
    async fn start(upstream: &ServiceApp) -> Consumer {
        Self::start_at(upstream.addr).await
    }

    async fn start_at(upstream: std::net::SocketAddr) -> Consumer {
        let db = TestDatabase::create().await;
        let pool = db.pool().await;
        CONSUMER.run(&pool).await.expect("consumer migrations");
        let mut consumer = Consumer {
            pool,
            handler: Arc::new(Recorder::default()),
            subscription: Subscription {
                name: "intake".into(),
                upstream: format!("http://{upstream}"),
                event_types: vec![],
                token: TokenFile(service_token_file("consumer")),
                tls: Default::default(),
                schema: "consumer",
            },
            running: None,
        };
        consumer.resume();
        consumer
    }

    fn subscriber(&self) -> Subscriber<Recorder> {
        Subscriber::new(
            self.subscription.clone(),
            self.pool.clone(),
            Arc::clone(&self.handler),
        )
    }

    /// Starts (again) the subscriber task.
    fn resume(&mut self) {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(self.subscriber().run(shutdown.clone()));
        self.running = Some((shutdown, task));
    }

    /// Kills the subscriber task where it stands, mid-transaction or not.
    async fn kill(&mut self) {
        if let Some((_, task)) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn applied(&self) -> Vec<(Uuid, i64)> {
        sqlx::query_as("SELECT event_id, position FROM consumer.applied ORDER BY position")
            .fetch_all(&self.pool)
            .await
            .expect("applied")
    }

    async fn count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM consumer.applied")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    async fn parked(&self) -> Vec<(Uuid, String)> {
        sqlx::query_as("SELECT event_id::uuid, error FROM consumer.feed_parked WHERE replayed_at IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("parked")
    }

    /// Waits (up to 60 s) until `n` events are applied.
    async fn wait_for(&self, n: i64) {
        for _ in 0..600 {
            if self.count().await >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "only {} of {n} events arrived within 60 s",
            self.count().await
        );
    }

    async fn stop(mut self) {
        if let Some((shutdown, task)) = self.running.take() {
            shutdown.cancel();
            task.await.expect("subscriber task");
        }
    }
}

/// Writes one event into intake's outbox in its own transaction, as a handler would, and
/// wakes the sequencer the way a writer outside the service process does.
async fn produce(pool: &PgPool, outbox: &Outbox) -> Uuid {
    let mut tx = pool.begin().await.expect("begin");
    let applicant = Uuid::now_v7();
    let id = outbox
        .append(
            &mut tx,
            applicant,
            chrono::Utc::now(),
            &pb::ApplicantRegistered {
                applicant_id: applicant.to_string(),
                occur_time: None,
            },
        )
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    wake_sequencer(pool).await;
    id
}

/// Announces committed events on `intake_outbox` (the service's own writes wake their
/// sequencer in-process).
async fn wake_sequencer(pool: &PgPool) {
    sqlx::query("SELECT pg_notify('intake_outbox', '')")
        .execute(pool)
        .await
        .expect("notify");
}

#[tokio::test]
async fn an_event_committed_late_with_an_earlier_sequence_is_still_delivered_once_in_commit_order()
{
    let intake = ServiceApp::spawn(&SERVICE).await;
    let consumer = Consumer::start(&intake).await;
    let pool = intake.db.pool().await;
    let outbox = Outbox::new("intake");

    // A takes its outbox row first but does not commit yet.
    let mut a = pool.begin().await.expect("begin A");
    let a_id = outbox
        .append(
            &mut a,
            Uuid::now_v7(),
            chrono::Utc::now(),
            &pb::ApplicantRegistered::default(),
        )
        .await
        .expect("append A");
    // B takes the next row and commits, and the subscriber reads it.
    let b_id = produce(&pool, &outbox).await;
    consumer.wait_for(1).await;
    let seqs: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT event_id, seq FROM intake.outbox ORDER BY seq")
            .fetch_all(&pool)
            .await
            .expect("seq");
    assert_eq!(
        seqs.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [b_id],
        "A is not visible yet"
    );
    // A commits after B was delivered.
    a.commit().await.expect("commit A");
    consumer.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let applied = consumer.applied().await;
    assert_eq!(
        applied.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [b_id, a_id],
        "commit order, each once"
    );
    assert!(applied[0].1 < applied[1].1);
    let a_seq: i64 = sqlx::query_scalar("SELECT seq FROM intake.outbox WHERE event_id = $1")
        .bind(a_id)
        .fetch_one(&pool)
        .await
        .expect("A's seq");
    let b_seq: i64 = sqlx::query_scalar("SELECT seq FROM intake.outbox WHERE event_id = $1")
        .bind(b_id)
        .fetch_one(&pool)
        .await
        .expect("B's seq");
    assert!(
        a_seq < b_seq,
        "A took its row first, yet is delivered after B"
    );
    assert!(consumer.parked().await.is_empty());
    consumer.stop().await;
}

#[tokio::test]
async fn a_burst_from_concurrent_writers_arrives_complete() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let consumer = Consumer::start(&intake).await;
    let pool = intake.db.pool().await;
    let outbox = Outbox::new("intake");
    const WRITERS: usize = 8;
    const EACH: usize = 400;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (pool, outbox) = (pool.clone(), outbox.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(EACH);
            for _ in 0..EACH {
                ids.push(produce(&pool, &outbox).await);
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for writer in writers {
        written.extend(writer.await.expect("writer"));
    }
    consumer.wait_for((WRITERS * EACH) as i64).await;
    let applied = consumer.applied().await;
    assert_eq!(applied.len(), WRITERS * EACH);
    assert_eq!(
        applied.iter().map(|(id, _)| *id).collect::<HashSet<_>>(),
        written
    );
    let positions: Vec<i64> = applied.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        positions,
        (1..=(WRITERS * EACH) as i64).collect::<Vec<_>>(),
        "gapless positions"
    );
    assert!(consumer.parked().await.is_empty());
    consumer.stop().await;
}

#[tokio::test]
async fn a_subscriber_killed_mid_stream_resumes_without_missing_or_repeating_an_event() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let mut consumer = Consumer::start(&intake).await;
    let pool = intake.db.pool().await;
    let outbox = Outbox::new("intake");
    const TOTAL: i64 = 2000;
    let writer = tokio::spawn({
        let (pool, outbox) = (pool.clone(), outbox.clone());
        async move {
            for i in 0..TOTAL {
                produce(&pool, &outbox).await;
                // Paced, so the kill below lands while events are still flowing.
                if i % 20 == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }
    });
    consumer.wait_for(200).await;
    assert!(
        !writer.is_finished(),
        "the producer is still writing when the subscriber dies"
    );
    consumer.kill().await;
    writer.await.expect("writer");
    consumer.resume();
    consumer.wait_for(TOTAL).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(consumer.count().await, TOTAL);
    assert!(
        consumer.parked().await.is_empty(),
        "no event was applied twice"
    );
    let cursor: i64 = sqlx::query_scalar(
        "SELECT position FROM consumer.feed_cursors WHERE subscription = 'intake'",
    )
    .fetch_one(&consumer.pool)
    .await
    .expect("cursor");
    assert_eq!(cursor, TOTAL);
    consumer.stop().await;
}

#[tokio::test]
async fn when_the_producer_restarts_the_subscriber_reconnects_by_itself() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let consumer = Consumer::start(&intake).await;
    let outbox = Outbox::new("intake");
    produce(&intake.db.pool().await, &outbox).await;
    consumer.wait_for(1).await;

    // The producer goes away while nothing is written, then comes back on the same address.
    let intake = intake.restart().await;
    produce(&intake.db.pool().await, &outbox).await;
    consumer.wait_for(2).await;
    assert!(consumer.parked().await.is_empty());
    consumer.stop().await;
    intake.stop().await.expect("stop");
}

#[tokio::test]
async fn a_poison_event_is_parked_visibly_the_feed_goes_on_and_it_replays_once_fixed() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let consumer = Consumer::start(&intake).await;
    let pool = intake.db.pool().await;
    let poison = intake.db.poison_intake_feed().await;
    let after = produce(&pool, &Outbox::new("intake")).await;
    consumer.wait_for(1).await;

    let parked = consumer.parked().await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].0, poison);
    assert!(parked[0].1.contains("does not decode"), "{}", parked[0].1);
    assert_eq!(
        consumer
            .applied()
            .await
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        [after]
    );

    // Replaying with the bug still there keeps it parked; after the fix it applies.
    assert_eq!(
        consumer.subscriber().replay_parked().await.expect("replay"),
        (0, 1)
    );
    consumer
        .handler
        .accept_undecodable
        .store(true, Ordering::SeqCst);
    assert_eq!(
        consumer.subscriber().replay_parked().await.expect("replay"),
        (1, 0)
    );
    assert!(consumer.parked().await.is_empty());
    assert_eq!(consumer.count().await, 2);
    consumer.stop().await;
}

#[tokio::test]
async fn the_consumer_applies_the_event_in_the_trace_of_the_producing_rpc() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let consumer = Consumer::start(&intake).await;
    let trace_id = format!("{:032x}", Uuid::new_v4().as_u128());
    let mut client: IntakeClient = intake
        .client(&token("desk", &[Role::FrontDesk], None))
        .await;
    let mut request = tonic::Request::new(pb::CreateApplicantRequest {
        applicant: Some(pb::Applicant {
            given_name: "Jana".into(),
            family_name: "Kowalski".into(),
            birth_date: Some(fallwerk_proto::google::r#type::Date {
                year: 1995,
                month: 3,
                day: 4,
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .expect("ascii"),
    );
    client.create_applicant(request).await.expect("created");
    consumer.wait_for(1).await;
    let applied: String = sqlx::query_scalar("SELECT trace_id FROM consumer.applied")
        .fetch_one(&consumer.pool)
        .await
        .expect("applied");
    assert_eq!(applied, trace_id);
    consumer.stop().await;
}

#[tokio::test]
async fn only_services_and_auditors_may_read_a_feed() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    for role in Role::ALL {
        let mut feed = EventFeedServiceClient::with_interceptor(
            intake.channel().await,
            Bearer::new(&token("x", &[role], None)),
        );
        let result = feed.subscribe(SubscribeRequest::default()).await;
        match role {
            Role::Service | Role::Auditor => assert!(result.is_ok(), "{role:?} reads the feed"),
            _ => assert_eq!(
                result.expect_err("denied").code(),
                tonic::Code::PermissionDenied,
                "{role:?} must not read the feed"
            ),
        }
    }
    // Only a service acknowledges (an auditor reads, and holds nothing back).
    for role in Role::ALL {
        let mut feed = EventFeedServiceClient::with_interceptor(
            intake.channel().await,
            Bearer::new(&token("x", &[role], None)),
        );
        let result = feed
            .acknowledge(fallwerk_proto::feed::AcknowledgeRequest { position: 0 })
            .await;
        match role {
            Role::Service => assert!(result.is_ok(), "a service acknowledges"),
            _ => assert_eq!(
                result.expect_err("denied").code(),
                tonic::Code::PermissionDenied,
                "{role:?} must not acknowledge"
            ),
        }
    }
    let mut feed =
        EventFeedServiceClient::with_interceptor(intake.channel().await, Bearer::new(""));
    assert_eq!(
        feed.subscribe(SubscribeRequest::default())
            .await
            .expect_err("no token")
            .code(),
        tonic::Code::Unauthenticated
    );
}

#[tokio::test]
async fn a_subscription_ends_unauthenticated_when_its_token_expires() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let short_lived = fallwerk_tests::signing_key().mint(&fallwerk_devkey::TokenSpec {
        subject: "case-plan".into(),
        roles: vec![Role::Service],
        team_id: None,
        partner_id: None,
        ttl: std::time::Duration::from_secs(2),
    });
    let mut feed =
        EventFeedServiceClient::with_interceptor(intake.channel().await, Bearer::new(&short_lived));
    let mut stream = feed
        .subscribe(SubscribeRequest::default())
        .await
        .expect("subscribed")
        .into_inner();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended without saying why"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("ended within 10 s");
    assert_eq!(ended.code(), tonic::Code::Unauthenticated, "{ended:?}");
}

#[tokio::test]
async fn a_subscription_names_its_bad_fields() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let mut feed = EventFeedServiceClient::with_interceptor(
        intake.channel().await,
        Bearer::new(&token("svc", &[Role::Service], None)),
    );
    let status = feed
        .subscribe(SubscribeRequest {
            after_position: -1,
            event_types: vec![String::new()],
        })
        .await
        .expect_err("bad request");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        fallwerk_tests::bad_fields(&status),
        ["after_position", "event_types[0]"]
    );
}

#[tokio::test]
async fn a_subscription_filtered_by_type_replays_only_that_type_then_reports_the_head() {
    use fallwerk_proto::feed::subscribe_response::Item;
    let intake = ServiceApp::spawn(&SERVICE).await;
    let pool = intake.db.pool().await;
    let outbox = Outbox::new("intake");
    produce(&pool, &outbox).await;
    let mut tx = pool.begin().await.expect("begin");
    let visit = outbox
        .append(
            &mut tx,
            Uuid::now_v7(),
            chrono::Utc::now(),
            &pb::VisitRegistered::default(),
        )
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    produce(&pool, &outbox).await;
    // Wait until the sequencer stamped all three.
    for _ in 0..100 {
        let unstamped: i64 =
            sqlx::query_scalar("SELECT count(*) FROM intake.outbox WHERE position IS NULL")
                .fetch_one(&pool)
                .await
                .expect("count");
        if unstamped == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut feed = EventFeedServiceClient::with_interceptor(
        intake.channel().await,
        Bearer::new(&token("svc", &[Role::Service], None)),
    );
    let mut stream = feed
        .subscribe(SubscribeRequest {
            after_position: 0,
            event_types: vec!["fallwerk.intake.v1.VisitRegistered".into()],
        })
        .await
        .expect("subscribed")
        .into_inner();
    let first = stream.message().await.expect("message").expect("an event");
    let Some(Item::Event(event)) = first.item else {
        panic!("expected the event, got {first:?}")
    };
    assert_eq!(event.event_id, visit.to_string());
    assert_eq!(event.position, 2);
    assert_eq!(
        event.payload.map(|p| p.type_url),
        Some("type.googleapis.com/fallwerk.intake.v1.VisitRegistered".to_owned())
    );
    let second = stream
        .message()
        .await
        .expect("message")
        .expect("a heartbeat");
    assert_eq!(
        second.item,
        Some(Item::Heartbeat(fallwerk_proto::feed::Heartbeat {
            head_position: 3,
            // Nothing this subscription takes lies after the visit up to the head.
            delivered_through: 3,
        }))
    );
}

/// An upstream feed not written by us, serving `events` and then nothing more.
struct ForeignFeed(Vec<fallwerk_proto::feed::Event>);

#[tonic::async_trait]
impl fallwerk_proto::feed::event_feed_service_server::EventFeedService for ForeignFeed {
    type SubscribeStream = std::pin::Pin<
        Box<
            dyn tokio_stream::Stream<
                    Item = Result<fallwerk_proto::feed::SubscribeResponse, tonic::Status>,
                > + Send,
        >,
    >;

    async fn subscribe(
        &self,
        request: tonic::Request<fallwerk_proto::feed::SubscribeRequest>,
    ) -> Result<tonic::Response<Self::SubscribeStream>, tonic::Status> {
        use fallwerk_proto::feed::{SubscribeResponse, subscribe_response::Item};
        use tokio_stream::StreamExt;
        let after = request.into_inner().after_position;
        let events: Vec<_> = self
            .0
            .iter()
            .filter(|e| e.position > after)
            .map(|e| {
                Ok(SubscribeResponse {
                    item: Some(Item::Event(e.clone())),
                })
            })
            .collect();
        let stream = tokio_stream::iter(events).chain(tokio_stream::pending());
        Ok(tonic::Response::new(Box::pin(stream)))
    }

    /// An upstream of an older contract: the subscriber must get on without acknowledging.
    async fn acknowledge(
        &self,
        _request: tonic::Request<fallwerk_proto::feed::AcknowledgeRequest>,
    ) -> Result<tonic::Response<fallwerk_proto::feed::AcknowledgeResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("no acknowledgements here"))
    }
}

#[tokio::test]
async fn events_with_malformed_ids_from_a_foreign_upstream_are_each_parked_none_lost() {
    let event = |position: i64, event_id: &str| fallwerk_proto::feed::Event {
        position,
        event_id: event_id.into(),
        event_type: "fallwerk.intake.v1.ApplicantRegistered".into(),
        ..Default::default()
    };
    let good = Uuid::now_v7();
    let feed = ForeignFeed(vec![
        event(1, "not-a-uuid"),
        event(2, "also not a uuid"),
        event(3, &good.to_string()),
    ]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(
                fallwerk_proto::feed::event_feed_service_server::EventFeedServiceServer::new(feed),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let consumer = Consumer::start_at(addr).await;
    consumer.wait_for(1).await;

    let parked: Vec<(i64, String)> =
        sqlx::query_as("SELECT position, event_id FROM consumer.feed_parked ORDER BY position")
            .fetch_all(&consumer.pool)
            .await
            .expect("parked");
    assert_eq!(
        parked,
        [
            (1, "not-a-uuid".to_owned()),
            (2, "also not a uuid".to_owned())
        ]
    );
    assert_eq!(consumer.applied().await.len(), 1);
    consumer.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_feed_prunes_what_every_subscriber_applied_and_says_so_to_one_asking_for_it() {
    use fallwerk_platform::feed::retention::prune_once;
    use fallwerk_proto::feed::AcknowledgeRequest;
    let intake = ServiceApp::spawn(&SERVICE).await;
    let pool = intake.db.pool().await;
    let outbox = Outbox::new("intake");
    for _ in 0..5 {
        produce(&pool, &outbox).await;
    }
    let service = token("case-plan", &[Role::Service], None);
    let mut feed =
        EventFeedServiceClient::with_interceptor(intake.channel().await, Bearer::new(&service));
    // Wait until all five are stamped.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let head = loop {
        // One query: both numbers of the same moment.
        let (stamped, head): (i64, Option<i64>) =
            sqlx::query_as("SELECT count(position), max(position) FROM intake.outbox")
                .fetch_one(&pool)
                .await
                .expect("stamped");
        if stamped == 5 {
            break head.expect("head");
        }
        assert!(std::time::Instant::now() < deadline, "stamped within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // case-plan has applied up to the third event.
    let third = head - 2;
    feed.acknowledge(AcknowledgeRequest { position: third })
        .await
        .expect("acknowledged");
    let later = chrono::Utc::now() + chrono::Duration::days(31);
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    // Old enough, but not beyond the slowest subscriber heard from.
    let pruned = prune_once(&pool, "intake", later, an_hour_ago)
        .await
        .expect("prune");
    assert_eq!(pruned, 3);
    let status = feed
        .subscribe(SubscribeRequest::default())
        .await
        .expect_err("pruned");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        fallwerk_tests::error_reason(&status).as_deref(),
        Some("FEED_POSITION_PRUNED")
    );
    assert_eq!(
        fallwerk_tests::error_metadata(&status, "earliest_position"),
        Some((third + 1).to_string())
    );
    feed.subscribe(SubscribeRequest {
        after_position: third,
        ..Default::default()
    })
    .await
    .expect("from the acknowledged position");

    // A subscriber silent for longer than the retention is not waited for.
    let pruned = prune_once(&pool, "intake", later, later)
        .await
        .expect("prune");
    assert_eq!(pruned, 2);

    // With every event pruned, the next one still comes after all positions ever given.
    produce(&pool, &outbox).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let next: Option<i64> = sqlx::query_scalar("SELECT max(position) FROM intake.outbox")
            .fetch_one(&pool)
            .await
            .expect("next");
        if let Some(next) = next {
            assert_eq!(next, head + 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "stamped within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_running_subscriber_acknowledges_how_far_it_applied() {
    let world = fallwerk_tests::world::World::open().await;
    let office = &world.office;
    world.case(&office.desk, &office.advisor).await;
    let pool = office.app.db.pool().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let acknowledged: Option<i64> =
            sqlx::query_scalar("SELECT max(position) FROM intake.feed_subscribers")
                .fetch_one(&pool)
                .await
                .expect("acknowledged");
        if acknowledged.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "case-plan acknowledged within 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
