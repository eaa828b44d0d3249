//! The cost of the hash-chained audit trail, in one run: audited reads' records per second (16
//! readers through the service's audit writer, which commits them in shared batches) with the
//! chainer stopped and with it linking alongside, how far the chain lags, and how
//! long verifying the trail takes. A benchmark, not a test: it prints figures and asserts
//! nothing about time. Run with `make bench-audit` (durable PostgreSQL, release build; writers
//! and PostgreSQL share this machine).

use std::time::{Duration, Instant};

use fallwerk_platform::{
    audit::{
        chain::{Chainer, verify},
        writer::AuditWriter,
    },
    auth::{Caller, Principal, Role},
};
use fallwerk_tests::TestDatabase;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WRITERS: usize = 16;
const PER_WRITER: usize = 500;

/// WRITERS readers × PER_WRITER reads, each recording its read of one applicant and waiting
/// for the commit (what every audited read does); records per second.
async fn write_load(pool: &PgPool) -> f64 {
    let started = Instant::now();
    let log = AuditWriter::start(pool, "intake");
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            let caller = Caller {
                principal: Principal {
                    subject: format!("bench-{w}"),
                    roles: [Role::Advisor].into(),
                    team_id: None,
                    partner_id: None,
                    expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
                },
                method: "GetApplicant",
                deadline: std::time::Instant::now() + std::time::Duration::from_secs(30),
            };
            for _ in 0..PER_WRITER {
                log.record(&caller, "applicant", &[Uuid::now_v7()])
                    .await
                    .expect("record");
            }
        }));
    }
    for writer in writers {
        writer.await.expect("writer");
    }
    (WRITERS * PER_WRITER) as f64 / started.elapsed().as_secs_f64()
}

async fn unchained(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM intake.audit_log WHERE chain_position IS NULL")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::migrated(&fallwerk_intake::SERVICE.migrator).await;
    let pool = db.pool().await;

    let without = write_load(&pool).await;
    // Link that backlog first, so the second round measures linking alongside writing.
    let chainer = Chainer::new(pool.clone(), "intake");
    while chainer.chain_once().await.expect("chain") > 0 {}

    let stop = CancellationToken::new();
    let running = tokio::spawn(Chainer::new(pool.clone(), "intake").run(stop.clone()));
    let with = write_load(&pool).await;
    let behind = unchained(&pool).await;
    let drain = Instant::now();
    while unchained(&pool).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained = drain.elapsed();
    stop.cancel();
    running.await.expect("chainer");

    let started = Instant::now();
    let found = verify(&pool, "intake").await.expect("verify");
    let verified = started.elapsed();
    assert!(found.broken.is_none(), "the bench's chain is intact");

    println!("audited writes ({WRITERS} writers × {PER_WRITER} transactions, one record each):");
    println!("  chainer stopped:  {without:.0} records/s");
    println!(
        "  chainer linking:  {with:.0} records/s  (ratio {:.2})",
        with / without
    );
    println!(
        "  chain lag when the writers stopped: {behind} records, linked {:.0} ms later",
        drained.as_secs_f64() * 1e3
    );
    println!(
        "verify: {} records in {:.0} ms ({:.0} records/s)",
        found.chained,
        verified.as_secs_f64() * 1e3,
        found.chained as f64 / verified.as_secs_f64()
    );
}
