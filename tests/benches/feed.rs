//! Event feed figures: end-to-end propagation latency (commit in the producer → committed
//! effect in the consumer) at a steady write rate, and the most events per second a
//! subscriber sustains. A benchmark, not a test: it prints figures and asserts nothing about
//! time. Run with `make bench-feed` (durable PostgreSQL, release build).
//!
//! The consumer's effect table has a trigger that notifies on insert; notifications are
//! delivered at commit, so the moment the bench's listener hears an event id is the moment
//! its effect committed.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use fallwerk_intake::SERVICE;
use fallwerk_platform::{
    feed::subscriber::{ApplyError, EventHandler, Subscriber, Subscription, TokenFile},
    migrate::{Migration, Migrator},
    outbox::Outbox,
};
use fallwerk_proto::{feed::Event, intake as pb};
use fallwerk_tests::{ServiceApp, TestDatabase, service_token_file};
use sqlx::{PgConnection, PgPool, postgres::PgListener};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CONSUMER: Migrator = Migrator::new(
    "bench",
    &[Migration {
        id: "0001_effects",
        sql: "CREATE TABLE bench.effects (event_id uuid PRIMARY KEY);
              CREATE FUNCTION bench.effect_committed() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN PERFORM pg_notify('bench_effects', NEW.event_id::text); RETURN NULL; END; $$;
              CREATE TRIGGER effect_committed AFTER INSERT ON bench.effects
                  FOR EACH ROW EXECUTE FUNCTION bench.effect_committed();",
    }],
);

struct Effects;

impl EventHandler for Effects {
    async fn apply(&self, conn: &mut PgConnection, event: &Event) -> Result<(), ApplyError> {
        sqlx::query("INSERT INTO bench.effects (event_id) VALUES ($1)")
            .bind(Uuid::parse_str(&event.event_id).map_err(|e| ApplyError::Poison(e.to_string()))?)
            .execute(conn)
            .await?;
        Ok(())
    }
}

type Commits = Arc<Mutex<HashMap<Uuid, Instant>>>;

async fn produce(pool: &PgPool, outbox: &Outbox, commits: &Commits) {
    let mut tx = pool.begin().await.expect("begin");
    let id = outbox
        .append(
            &mut tx,
            Uuid::now_v7(),
            chrono::Utc::now(),
            &pb::ApplicantRegistered::default(),
        )
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    commits.lock().await.insert(id, Instant::now());
    // A writer outside the service process announces its commit (the service's own handlers
    // wake the sequencer in-process instead).
    sqlx::query("SELECT pg_notify('intake_outbox', '')")
        .execute(pool)
        .await
        .expect("notify");
}

/// Collects (event id, committed-effect instant) until `n` arrived.
async fn effects(mut listener: PgListener, n: usize) -> Vec<(Uuid, Instant)> {
    let mut seen = Vec::with_capacity(n);
    while seen.len() < n {
        let note = tokio::time::timeout(Duration::from_secs(60), listener.recv())
            .await
            .expect("effects keep arriving")
            .expect("listener");
        seen.push((note.payload().parse().expect("uuid"), Instant::now()));
    }
    seen
}

fn new_subscriber(intake: &ServiceApp, pool: &PgPool) -> Subscriber<Effects> {
    let subscription = Subscription {
        name: "intake".into(),
        upstream: format!("http://{}", intake.addr),
        event_types: vec![],
        token: TokenFile(service_token_file("bench")),
        tls: Default::default(),
        schema: "bench",
    };
    Subscriber::new(subscription, pool.clone(), Arc::new(Effects))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let intake = ServiceApp::spawn(&SERVICE).await;
    let producer_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&intake.db.url)
        .await
        .expect("producer pool");
    let consumer_db = TestDatabase::create().await;
    let consumer_pool = consumer_db.pool().await;
    CONSUMER.run(&consumer_pool).await.expect("consumer schema");
    let shutdown = CancellationToken::new();
    let subscriber = new_subscriber(&intake, &consumer_pool);
    let task = tokio::spawn(subscriber.run(shutdown.clone()));
    let outbox = Outbox::new("intake");

    // 1. Latency at a steady rate.
    let rate: u64 = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(200);
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let total = (rate * seconds) as usize;
    let mut listener = PgListener::connect_with(&consumer_pool)
        .await
        .expect("listener");
    listener.listen("bench_effects").await.expect("listen");
    let collector = tokio::spawn(effects(listener, total));
    let commits: Commits = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for _ in 0..total {
        tick.tick().await;
        let (pool, outbox, commits) = (producer_pool.clone(), outbox.clone(), Arc::clone(&commits));
        tokio::spawn(async move { produce(&pool, &outbox, &commits).await });
    }
    let arrived = collector.await.expect("collector");
    let commits = commits.lock().await;
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .filter_map(|(id, at)| commits.get(id).map(|c| at.saturating_duration_since(*c)))
        .collect();
    latencies.sort();
    println!(
        "steady {rate} events/s for {seconds} s: {} events, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    drop(commits);

    // 2. Most events per second: a backlog written as fast as 16 writers can, then the time
    // the subscriber needs to apply it all.
    let backlog: usize = std::env::var("BENCH_BACKLOG")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20_000);
    shutdown.cancel();
    task.await.expect("subscriber");
    let started = Instant::now();
    let commits: Commits = Arc::default();
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (pool, outbox, commits) = (producer_pool.clone(), outbox.clone(), Arc::clone(&commits));
        writers.push(tokio::spawn(async move {
            for _ in 0..backlog / 16 {
                produce(&pool, &outbox, &commits).await;
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    let written = backlog / 16 * 16;
    let write_secs = started.elapsed().as_secs_f64();
    println!(
        "producer: {written} events in {write_secs:.2} s = {:.0} events/s (16 writers, one transaction each)",
        written as f64 / write_secs
    );

    let mut listener = PgListener::connect_with(&consumer_pool)
        .await
        .expect("listener");
    listener.listen("bench_effects").await.expect("listen");
    let collector = tokio::spawn(effects(listener, written));
    let shutdown = CancellationToken::new();
    let subscriber = new_subscriber(&intake, &consumer_pool);
    let resumed = Instant::now();
    let task = tokio::spawn(subscriber.run(shutdown.clone()));
    collector.await.expect("collector");
    let apply_secs = resumed.elapsed().as_secs_f64();
    println!(
        "subscriber: caught up {written} events in {apply_secs:.2} s = {:.0} events/s applied",
        written as f64 / apply_secs
    );
    shutdown.cancel();
    task.await.expect("subscriber");
    intake.stop().await.expect("stop");
}
