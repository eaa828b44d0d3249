//! Prometheus metrics. A test binary of its own: the metrics recorder is process-global.

use fallwerk_intake::SERVICE;
use fallwerk_platform::{auth::Role, config::MetricsListen};
use fallwerk_proto::intake as pb;
use fallwerk_tests::{IntakeClient, ServiceApp, token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scrape(addr: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("metrics listener");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("response");
    body
}

fn line<'a>(body: &'a str, name: &str, labels: &[&str]) -> Option<&'a str> {
    body.lines().find(|l| {
        // The whole name: `feed_parked_events` is not `feed_parked_events_total`.
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(['{', ' ']))
            && labels.iter().all(|label| l.contains(label))
    })
}

/// The process's metrics listener, installed once (the recorder is process-global) on a
/// runtime of its own that outlives each test's.
fn metrics() -> std::net::SocketAddr {
    static ADDR: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();
    *ADDR.get_or_init(|| {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        let addr = free.local_addr().expect("addr");
        drop(free);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("metrics runtime");
            runtime.block_on(async {
                fallwerk_platform::telemetry::init_metrics(MetricsListen::Addr(addr));
                std::future::pending::<()>().await
            });
        });
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return addr;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("metrics listener did not start");
    })
}

/// Calls `path` without a token, with an empty request.
async fn call_unauthenticated(app: &ServiceApp, path: &'static str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    grpc.ready().await.expect("channel ready");
    grpc.unary::<(), (), _>(
        tonic::Request::new(()),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .expect_err("refused")
}

#[tokio::test]
async fn methods_without_a_rule_share_the_label_unknown_so_callers_cannot_mint_series() {
    let addr = metrics();
    let app = ServiceApp::spawn(&SERVICE).await;
    for path in [
        "/fallwerk.intake.v1.IntakeService/NoSuchMethod",
        "/made.up.Service/Anything",
    ] {
        let status = call_unauthenticated(&app, path).await;
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    }
    let body = scrape(addr).await;
    assert!(!body.contains("NoSuchMethod"), "{body}");
    assert!(!body.contains("made.up.Service"), "{body}");
    let unknown = line(
        &body,
        "grpc_server_handled_total",
        &[
            r#"grpc_method="unknown""#,
            r#"grpc_code="PermissionDenied""#,
        ],
    )
    .expect("counted as unknown");
    assert!(unknown.ends_with(" 2"), "{unknown}");
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_consultation_start_that_rolls_back_is_not_counted() {
    let addr = metrics();
    let app = ServiceApp::spawn(&SERVICE).await;
    let admin: IntakeClient = app.client(&token("admin", &[Role::Admin], None)).await;
    let (team, visit) = ready_visit(&app, admin).await;
    let advisor = token("advisor-m", &[Role::Advisor], Some(team));
    let mut advisor: IntakeClient = app.client(&advisor).await;

    // The audit record is written last, just before commit: make it fail once.
    let pool = app.db.pool().await;
    sqlx::raw_sql(
        "CREATE FUNCTION intake.refuse() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END; $$;
         CREATE TRIGGER refuse BEFORE INSERT ON intake.audit_log
             FOR EACH ROW EXECUTE FUNCTION intake.refuse();",
    )
    .execute(&pool)
    .await
    .expect("fault installed");
    let start = pb::StartConsultationRequest {
        visit_id: visit.clone(),
        request_id: String::new(),
    };
    advisor
        .start_consultation(start.clone())
        .await
        .expect_err("the transaction fails");
    let started = |body: &str| {
        line(body, "intake_consultations_started_total", &[])
            .map(|l| l.rsplit(' ').next().unwrap_or_default().to_owned())
    };
    assert_eq!(started(&scrape(addr).await), None, "a rolled-back start");

    sqlx::query("DROP TRIGGER refuse ON intake.audit_log")
        .execute(&pool)
        .await
        .expect("fault removed");
    advisor.start_consultation(start).await.expect("started");
    assert_eq!(started(&scrape(addr).await).as_deref(), Some("1"));
    app.stop().await.expect("stop");
}

/// A team with advisor `advisor-m`, and a visit of it ready for its consultation.
async fn ready_visit(app: &ServiceApp, mut admin: IntakeClient) -> (uuid::Uuid, String) {
    let team = admin
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                display_name: "Metrik".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("team")
        .into_inner()
        .team
        .expect("team")
        .id;
    admin
        .create_advisor(pb::CreateAdvisorRequest {
            advisor: Some(pb::Advisor {
                team_id: team.clone(),
                subject: "advisor-m".into(),
                display_name: "M. Beraterin".into(),
                function: pb::AdvisorFunction::SocialWork.into(),
                capacity: 10,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("advisor");
    let team: uuid::Uuid = team.parse().expect("uuid");
    let mut desk: IntakeClient = app
        .client(&token("desk-m", &[Role::FrontDesk], Some(team)))
        .await;
    let applicant = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(pb::Applicant {
                given_name: "Mia".into(),
                family_name: "Metrik".into(),
                birth_date: Some(fallwerk_proto::google::r#type::Date {
                    year: 1990,
                    month: 5,
                    day: 1,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("applicant")
        .into_inner()
        .applicant
        .expect("applicant")
        .id;
    let visit = desk
        .register_visit(pb::RegisterVisitRequest {
            applicant_id: applicant,
            ..Default::default()
        })
        .await
        .expect("visit")
        .into_inner()
        .visit
        .expect("visit")
        .id;
    desk.record_access_check(pb::RecordAccessCheckRequest {
        visit_id: visit.clone(),
        access_check: Some(pb::AccessCheck {
            decision: pb::AccessDecision::Continue.into(),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .expect("access check");
    (team, visit)
}

#[tokio::test]
async fn metrics_count_each_rpc_by_method_and_code_time_it_and_show_the_pool() {
    let addr = metrics();
    let app = ServiceApp::spawn(&SERVICE).await;

    let mut admin: IntakeClient = app.client(&token("admin", &[Role::Admin], None)).await;
    admin
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect("listed");
    admin
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect("listed");
    let mut desk: IntakeClient = app.client(&token("desk", &[Role::FrontDesk], None)).await;
    desk.create_team(pb::CreateTeamRequest::default())
        .await
        .expect_err("front desk may not");

    let body = scrape(addr).await;
    let method = r#"grpc_method="fallwerk.intake.v1.IntakeService/ListTeams""#;
    let ok = line(
        &body,
        "grpc_server_handled_total",
        &[method, r#"grpc_code="Ok""#],
    )
    .expect("ListTeams counted");
    assert!(ok.ends_with(" 2"), "{ok}");
    let denied = line(
        &body,
        "grpc_server_handled_total",
        &[
            r#"grpc_method="fallwerk.intake.v1.IntakeService/CreateTeam""#,
            r#"grpc_code="PermissionDenied""#,
        ],
    )
    .expect("denial counted by code");
    assert!(denied.ends_with(" 1"), "{denied}");
    assert!(
        line(&body, "grpc_server_handling_seconds_bucket", &[method]).is_some(),
        "latency histogram"
    );
    assert!(
        line(&body, "db_pool_max_connections", &[]).is_some(),
        "pool figures"
    );
    assert!(
        line(&body, "grpc_health_serving", &[]).is_some_and(|l| l.ends_with(" 1")),
        "the health the readiness probe sees"
    );
    assert!(
        line(&body, "db_pool_connections", &[r#"state="idle""#]).is_some(),
        "pool figures"
    );
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn a_call_cut_off_by_a_deadline_answers_deadline_exceeded_and_is_counted() {
    let addr = metrics();
    let app = ServiceApp::spawn_tuned(&SERVICE, |server| server.request_timeout_secs = 1).await;
    // ListTeams waits for an exclusive lock on the teams until the server's timeout ends it.
    let lock = app.db.lock("intake.teams").await;
    let mut lead: IntakeClient = app.client(&token("lead-7", &[Role::TeamLead], None)).await;
    let cut = lead
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect_err("the server's timeout");
    assert_eq!(cut.code(), tonic::Code::DeadlineExceeded, "{cut:?}");
    // A client's own shorter deadline bounds the work the same way, and is counted too. What
    // the client sees is its library's own timer (tonic's says CANCELLED) or the server's
    // answer, whichever comes first; the server's side is what this test is about.
    let mut request = tonic::Request::new(pb::ListTeamsRequest::default());
    request.set_timeout(std::time::Duration::from_millis(300));
    lead.list_teams(request)
        .await
        .expect_err("the client's deadline");
    drop(lock);

    // The server answers the second call at its end of the deadline, which may come a moment
    // after the client gave up: look again for up to 5 s.
    let mut counted = String::new();
    for _ in 0..50 {
        let body = scrape(addr).await;
        counted = line(
            &body,
            "grpc_server_handled_total",
            &[
                r#"grpc_method="fallwerk.intake.v1.IntakeService/ListTeams""#,
                r#"grpc_code="DeadlineExceeded""#,
            ],
        )
        .unwrap_or_default()
        .to_owned();
        if counted.ends_with(" 2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(counted.ends_with(" 2"), "both counted: {counted:?}");
}

/// Waits up to 20 s for `feed_parked_events{subscription="intake"}` to read `expected`.
async fn parked_gauge_reads(addr: std::net::SocketAddr, expected: &str) {
    let mut seen = None;
    for _ in 0..200 {
        let body = scrape(addr).await;
        seen = line(&body, "feed_parked_events", &[r#"subscription="intake""#]).map(str::to_owned);
        if seen
            .as_deref()
            .is_some_and(|l| l.ends_with(&format!(" {expected}")))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("feed_parked_events never read {expected}: {seen:?}");
}

#[tokio::test]
async fn parked_events_waiting_are_a_gauge_that_falls_when_they_are_replayed() {
    let addr = metrics();
    let world = fallwerk_tests::world::World::open().await;
    world.office.app.db.poison_intake_feed().await;
    let office = &world.office;
    world.case(&office.desk, &office.advisor).await;
    parked_gauge_reads(addr, "1").await;
    // Marked done (as an operator does for an event that needs no effect): the gauge follows.
    sqlx::query("UPDATE caseplan.feed_parked SET replayed_at = now()")
        .execute(&world.case_plan.db.pool().await)
        .await
        .expect("marked done");
    parked_gauge_reads(addr, "0").await;
}
