//! Faults under load, checked the way Jepsen checks: from the databases afterwards, never from
//! the logs. While the load generator takes people through the whole process across all three
//! services, each service crashes in turn, PostgreSQL stops, every connection between the
//! services is cut and slowed by 200 ms (a TCP proxy of the harness in front of each service),
//! intake is overloaded past a narrow limit, and case-plan is away long enough for the feeds to
//! fall behind. Then:
//!
//! - every create a service acknowledged exists, in its own database and in every service that
//!   follows it;
//! - every event had its effect exactly once in every subscriber (one timeline entry per case
//!   opening and per referral change, every closure known everywhere);
//! - nothing is in an impossible state (an open referral on a closed case, an offer whose
//!   places taken differ from its accepted referrals, a person with two open cases, a parked
//!   event);
//! - every service is SERVING again by itself.
//!
//! `make test` runs the short form (a few seconds per fault); `make chaos` the long one
//! (CHAOS_PHASE_SECS, 15) with the figures printed. A test binary of its own: it owns a
//! PostgreSQL cluster to stop.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use fallwerk_proto::{intake, partner};
use fallwerk_tests::{
    ServiceApp, TestDatabase, cluster::PrivateCluster, process::ServiceProcess, world::World,
};
use prost::{Message, Name};
use sqlx::PgPool;

/// Seconds of load around each fault.
fn phase() -> Duration {
    let secs = std::env::var("CHAOS_PHASE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    Duration::from_secs(secs)
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Crash(Service),
    DatabaseDown,
    /// Every connection between the services cut, then 200 ms added to everything they send
    /// each other for half a phase.
    Network,
    /// intake restarted with room for 2 calls at once and 50 ms of queueing, under 16
    /// clients: calls are shed while it lasts.
    Overload,
    /// case-plan stopped for a whole phase: intake's and partner's feeds to it fall behind.
    ConsumerBehind,
}

#[derive(Debug, Clone, Copy)]
enum Service {
    Intake,
    CasePlan,
    Partner,
}

fn app(world: &mut World, service: Service) -> &mut ServiceApp {
    match service {
        Service::Intake => &mut world.office.app,
        Service::CasePlan => &mut world.case_plan,
        Service::Partner => world.partner.as_mut().expect("partner"),
    }
}

/// Waits until all three services are SERVING again; how long that took.
async fn all_serving(world: &World) -> Duration {
    let started = Instant::now();
    for app in [
        &world.office.app,
        &world.case_plan,
        world.partner.as_ref().expect("partner"),
    ] {
        app.wait_serving().await;
    }
    started.elapsed()
}

#[tokio::test]
async fn acknowledged_work_survives_crashes_a_database_restart_a_bad_network_and_a_lagging_consumer()
 {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = PrivateCluster::start().await;
    let admin = cluster.admin_url();
    let mut world = World::open_with_partner_on(Some(&admin), true).await;
    for service in [Service::Intake, Service::CasePlan, Service::Partner] {
        app(&mut world, service).clock.set(chrono::Utc::now());
    }
    let acks = std::env::temp_dir().join(format!("fallwerk-acks-{}", uuid::Uuid::new_v4()));
    let phase = phase();

    let faults = [
        Fault::Crash(Service::Intake),
        Fault::Crash(Service::CasePlan),
        Fault::Crash(Service::Partner),
        Fault::DatabaseDown,
        Fault::Network,
        Fault::Overload,
        Fault::ConsumerBehind,
    ];
    for fault in faults {
        // 4 clients, and 16 to push intake past its narrowed limit.
        let clients = match fault {
            Fault::Overload => "16",
            _ => "4",
        };
        let config = world.load_config(&[
            "--scenario",
            "process",
            "--concurrency",
            clients,
            "--duration",
            &format!("{}s", phase.as_secs()),
            "--ack-log",
            acks.to_str().expect("utf-8 path"),
        ]);
        let load = tokio::spawn(async move { fallwerk_load::run(&config).await });
        tokio::time::sleep(phase / 3).await;
        let recovered = match fault {
            Fault::Crash(service) => {
                let app = app(&mut world, service);
                app.crash().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                let restarted = Instant::now();
                app.resume().await;
                restarted.elapsed()
            }
            Fault::DatabaseDown => {
                cluster.stop().await;
                tokio::time::sleep(Duration::from_secs(3)).await;
                cluster.resume().await;
                all_serving(&world).await
            }
            Fault::Network => {
                for proxy in &world.proxies {
                    proxy.cut();
                    proxy.set_delay(Duration::from_millis(200));
                }
                tokio::time::sleep(phase / 2).await;
                for proxy in &world.proxies {
                    proxy.set_delay(Duration::ZERO);
                }
                all_serving(&world).await
            }
            Fault::Overload => {
                let narrow: fallwerk_tests::Tune = std::sync::Arc::new(|server| {
                    server.max_in_flight = 2;
                    server.queue_wait_ms = 50;
                });
                world.office.app.restart_tuned(Some(narrow)).await;
                tokio::time::sleep(phase / 2).await;
                let restarted = Instant::now();
                world.office.app.restart_tuned(None).await;
                restarted.elapsed()
            }
            Fault::ConsumerBehind => {
                world.case_plan.pause().await;
                tokio::time::sleep(phase / 2).await;
                let restarted = Instant::now();
                world.case_plan.resume().await;
                restarted.elapsed()
            }
        };
        let report = load.await.expect("joined").expect("the load ran");
        let (ok, errors) = calls(&report);
        let other: Vec<String> = report
            .steps
            .iter()
            .flat_map(|s| {
                s.errors
                    .iter()
                    .filter(|(code, _)| *code != "Unavailable")
                    .map(move |(code, n)| format!("{} {code} {n}", s.step))
            })
            .collect();
        // The record of the run (with --nocapture); never asserted.
        eprintln!(
            "chaos: {fault:?}: SERVING again {recovered:?} after the restart; \
             {ok} calls ok, errors by code {errors:?}; other than UNAVAILABLE: {other:?}; \
             first error: {:?}",
            report.first_error
        );
    }

    heals(&Databases::of(&world), &acks, "the faults").await;
}

/// One chaos run at a time: each loads both cores on its own.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn acknowledged_work_survives_kill_9_of_each_service_process() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let intake_db = TestDatabase::migrated(&fallwerk_intake::SERVICE.migrator).await;
    let case_plan_db = TestDatabase::migrated(&fallwerk_case_plan::SERVICE.migrator).await;
    let partner_db = TestDatabase::migrated(&fallwerk_partner::SERVICE.migrator).await;
    let mut intake = ServiceProcess::new("intake", &intake_db, "intake");
    let mut case_plan = ServiceProcess::new("case-plan", &case_plan_db, "caseplan");
    let mut partner = ServiceProcess::new("partner", &partner_db, "partner");
    intake.upstreams = format!("case-plan={}", case_plan.address());
    case_plan.upstreams = format!("intake={},partner={}", intake.address(), partner.address());
    partner.upstreams = format!(
        "case-plan={},intake={}",
        case_plan.address(),
        intake.address()
    );
    for process in [&mut intake, &mut case_plan, &mut partner] {
        process.start().await;
    }
    let acks = std::env::temp_dir().join(format!("fallwerk-acks-{}", uuid::Uuid::new_v4()));
    let phase = phase();
    let key_dir = fallwerk_tests::key_dir().to_string_lossy().into_owned();
    let addresses = [intake.address(), case_plan.address(), partner.address()];
    for victim in ["intake", "case-plan", "partner"] {
        let config = {
            use clap::Parser;
            fallwerk_load::Config::try_parse_from([
                "fallwerk-load",
                "--intake",
                &addresses[0],
                "--case-plan",
                &addresses[1],
                "--partner",
                &addresses[2],
                "--key-dir",
                &key_dir,
                "--advisors",
                "2",
                "--quiet",
                "--scenario",
                "process",
                "--concurrency",
                "4",
                "--duration",
                &format!("{}s", phase.as_secs()),
                "--ack-log",
                acks.to_str().expect("utf-8 path"),
            ])
            .expect("valid flags")
        };
        let load = tokio::spawn(async move { fallwerk_load::run(&config).await });
        tokio::time::sleep(phase / 3).await;
        let process = match victim {
            "intake" => &mut intake,
            "case-plan" => &mut case_plan,
            _ => &mut partner,
        };
        process.kill_9().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let recovered = process.start().await;
        let report = load.await.expect("joined").expect("the load ran");
        let (ok, errors) = calls(&report);
        // The record of the run (with --nocapture); never asserted.
        eprintln!(
            "chaos: kill -9 of the {victim} process: SERVING {recovered:?} after its start; \
             {ok} calls ok, errors by code {errors:?}; first error: {:?}",
            report.first_error
        );
    }

    let databases = Databases {
        intake: &intake_db,
        case_plan: &case_plan_db,
        partner: &partner_db,
    };
    heals(&databases, &acks, "kill -9").await;
}

/// Waits (at most 60 s) until every check holds, as the system heals by itself; prints the
/// figures and asserts that nothing acknowledged was lost or doubled after `what`.
async fn heals(databases: &Databases<'_>, acks: &PathBuf, what: &str) {
    let started = Instant::now();
    let findings = loop {
        let findings = check(databases, acks).await;
        if findings.problems.is_empty() || started.elapsed() > Duration::from_secs(60) {
            break findings;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!(
        "chaos: after {what}, consistent {:?} later; checked {} acknowledged creates ({:?}), \
         {} case openings and {} referral changes in every subscriber",
        started.elapsed(),
        findings.acknowledged.values().sum::<usize>(),
        findings.acknowledged,
        findings.cases,
        findings.referral_changes,
    );
    let _ = std::fs::remove_file(acks);
    assert!(
        findings.problems.is_empty(),
        "after {what}: {:#?}",
        findings.problems
    );
    assert!(
        findings.acknowledged.get("referral").copied().unwrap_or(0) > 0,
        "the load got whole processes through: {:?}",
        findings.acknowledged
    );
}

#[derive(Debug, Default)]
struct Findings {
    /// Acknowledged creates checked, by kind.
    acknowledged: BTreeMap<String, usize>,
    /// Cases intake opened.
    cases: usize,
    /// ReferralChanged events partner wrote.
    referral_changes: usize,
    /// What does not hold.
    problems: Vec<String>,
}

/// The calls of a load run that were answered OK, and the others by code.
fn calls(report: &fallwerk_load::report::Report) -> (u64, BTreeMap<String, u64>) {
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for step in &report.steps {
        for (code, n) in &step.errors {
            *errors.entry(code.clone()).or_default() += n;
        }
    }
    (report.steps.iter().map(|s| s.ok).sum(), errors)
}

/// The three services' databases, where the checks read.
struct Databases<'a> {
    intake: &'a TestDatabase,
    case_plan: &'a TestDatabase,
    partner: &'a TestDatabase,
}

impl<'a> Databases<'a> {
    fn of(world: &'a World) -> Self {
        Databases {
            intake: &world.office.app.db,
            case_plan: &world.case_plan.db,
            partner: &world.partner.as_ref().expect("partner").db,
        }
    }
}

async fn check(databases: &Databases<'_>, acks: &PathBuf) -> Findings {
    let intake = databases.intake.pool().await;
    let plans = databases.case_plan.pool().await;
    let partner = databases.partner.pool().await;
    let mut findings = Findings::default();

    // Every acknowledged create exists, where it was made and where it is followed.
    let log = std::fs::read_to_string(acks).unwrap_or_default();
    for line in log.lines() {
        let Some((kind, id)) = line.split_once('\t') else {
            continue;
        };
        let id: uuid::Uuid = id.parse().expect("an id in the ack log");
        *findings.acknowledged.entry(kind.to_owned()).or_default() += 1;
        let places: &[(&PgPool, &str)] = match kind {
            "applicant" => &[(&intake, "intake.applicants WHERE id = $1")],
            "visit" => &[(&intake, "intake.visits WHERE id = $1")],
            "case" => &[
                (&intake, "intake.case_openings WHERE case_id = $1"),
                (&plans, "caseplan.cases WHERE id = $1"),
                (&partner, "partner.cases WHERE id = $1"),
            ],
            "agreement" => &[(&plans, "caseplan.agreements WHERE id = $1")],
            "referral" => &[
                (&partner, "partner.referrals WHERE id = $1"),
                (&plans, "caseplan.step_referrals WHERE referral_id = $1"),
            ],
            other => panic!("unknown kind {other} in the ack log"),
        };
        for (pool, place) in places {
            let n = count(pool, &format!("SELECT count(*) FROM {place}"), Some(id)).await;
            if n != 1 {
                findings
                    .problems
                    .push(format!("acknowledged {kind} {id}: {n} rows in {place}"));
            }
        }
    }

    // Every case intake opened reached case-plan exactly once (one 'opened' entry each).
    let opened = events(&intake, "intake", &intake::CaseOpened::full_name()).await;
    findings.cases = opened.len();
    for payload in &opened {
        let case = intake::CaseOpened::decode(payload.as_slice()).expect("CaseOpened");
        let id: uuid::Uuid = case.case_id.parse().expect("case id");
        let entries = count(
            &plans,
            "SELECT count(*) FROM caseplan.timeline WHERE case_id = $1 AND kind = 'opened'",
            Some(id),
        )
        .await;
        if entries != 1 {
            findings.problems.push(format!(
                "case {id}: {entries} 'opened' entries in case-plan"
            ));
        }
    }

    // Every referral change reached case-plan exactly once (one timeline entry each).
    let changes = events(&partner, "partner", &partner::ReferralChanged::full_name()).await;
    findings.referral_changes = changes.len();
    let mut written: BTreeMap<String, i64> = BTreeMap::new();
    for payload in &changes {
        let change = partner::ReferralChanged::decode(payload.as_slice()).expect("ReferralChanged");
        *written.entry(change.referral_id).or_default() += 1;
    }
    let applied: BTreeMap<String, i64> = sqlx::query_as(
        "SELECT subject_id, count(*) FROM caseplan.timeline WHERE kind = 'referral_changed'
         GROUP BY subject_id",
    )
    .fetch_all(&plans)
    .await
    .expect("referral entries")
    .into_iter()
    .collect();
    if written != applied {
        findings.problems.push(format!(
            "referral changes written by partner {written:?} but applied by case-plan {applied:?}"
        ));
    }

    // Every closure is known in intake and partner.
    let closed: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM caseplan.cases WHERE state = 'closed'")
            .fetch_all(&plans)
            .await
            .expect("closed cases");
    for id in closed {
        let open_in_intake = count(
            &intake,
            "SELECT count(*) FROM intake.case_openings WHERE case_id = $1 AND closed_at IS NULL",
            Some(id),
        )
        .await;
        let open_in_partner = count(
            &partner,
            "SELECT count(*) FROM partner.cases WHERE id = $1 AND open",
            Some(id),
        )
        .await;
        if open_in_intake + open_in_partner > 0 {
            findings
                .problems
                .push(format!("case {id} closed in case-plan but open elsewhere"));
        }
    }

    // Impossible states.
    for (pool, what, sql) in [
        (
            &partner,
            "open referrals on closed cases",
            "SELECT count(*) FROM partner.referrals r JOIN partner.cases c ON c.id = r.case_id
             WHERE NOT c.open AND r.state IN ('sent', 'waiting', 'accepted', 'in_progress')",
        ),
        (
            &partner,
            "offers whose places taken differ from their accepted referrals",
            "SELECT count(*) FROM partner.offers o WHERE o.places_taken <> (
                 SELECT count(*) FROM partner.referrals r
                 WHERE r.offer_id = o.id AND r.state IN ('accepted', 'in_progress'))",
        ),
        (
            &intake,
            "people with more than one open case",
            "SELECT count(*) FROM (SELECT applicant_id FROM intake.case_openings
             WHERE closed_at IS NULL GROUP BY applicant_id HAVING count(*) > 1) two",
        ),
        (
            &intake,
            "parked events in intake",
            "SELECT count(*) FROM intake.feed_parked",
        ),
        (
            &plans,
            "parked events in case-plan",
            "SELECT count(*) FROM caseplan.feed_parked",
        ),
        (
            &partner,
            "parked events in partner",
            "SELECT count(*) FROM partner.feed_parked",
        ),
    ] {
        let n = count(pool, sql, None).await;
        if n != 0 {
            findings.problems.push(format!("{n} {what}"));
        }
    }
    findings
}

/// The payloads of every `event_type` event in `schema`'s outbox.
async fn events(pool: &PgPool, schema: &str, event_type: &str) -> Vec<Vec<u8>> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT payload FROM {schema}.outbox WHERE event_type = $1 ORDER BY position"
    )))
    .bind(event_type)
    .fetch_all(pool)
    .await
    .expect("outbox")
}

async fn count(pool: &PgPool, sql: &str, id: Option<uuid::Uuid>) -> i64 {
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()));
    let query = match id {
        Some(id) => query.bind(id),
        None => query,
    };
    query.fetch_one(pool).await.expect(sql)
}
