//! What operations rely on: migrations safe for replicas starting at once, readiness that
//! follows the database, reflection, configuration errors, graceful shutdown.

use fallwerk_intake::{SERVICE, domain::VisitState};
use fallwerk_platform::auth::Role;
use fallwerk_proto::intake as pb;
use fallwerk_tests::{IntakeClient, ServiceApp, TestDatabase, token};

const INTAKE: &str = fallwerk_proto::intake::intake_service_server::SERVICE_NAME;
use tonic_health::pb::health_check_response::ServingStatus;

#[tokio::test]
async fn two_replicas_starting_at_once_on_an_empty_database_both_migrate_and_serve() {
    let db = TestDatabase::create().await;
    let (first, second) = tokio::join!(
        ServiceApp::start(&SERVICE, db.clone(), true),
        ServiceApp::start(&SERVICE, db.clone(), true)
    );
    first.wait_serving().await;
    second.wait_serving().await;
    let applied: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, count(*) OVER (PARTITION BY id) FROM intake._migrations ORDER BY id",
    )
    .fetch_all(&db.pool().await)
    .await
    .expect("migrations table");
    // Every migration of intake's and the platform's, each once.
    let mut expected: Vec<String> = SERVICE
        .migrator
        .service_ids()
        .into_iter()
        .map(str::to_owned)
        .chain(
            [
                "platform_0001_outbox_idempotency_audit",
                "platform_0002_feed",
                "platform_0003_feed_wakeups_and_parking",
                "platform_0004_audit_chain",
                "platform_0005_feed_retention",
                "platform_0006_erasure_proof",
            ]
            .map(str::to_owned),
        )
        .collect();
    expected.sort();
    assert_eq!(
        applied.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(applied.iter().all(|(_, n)| *n == 1));
    first.stop().await.expect("first stops cleanly");
    second.stop().await.expect("second stops cleanly");
}

/// The status the plaintext health port at `addr` reports for `name` (-1: no answer).
async fn health_port(addr: std::net::SocketAddr, name: &str) -> i32 {
    let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
    else {
        return -1;
    };
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: name.into(),
        })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
}

#[tokio::test]
async fn the_service_is_not_serving_until_its_migrations_ran() {
    let db = TestDatabase::create().await;
    // A free port for the plaintext health port, as a pod's HEALTH_LISTEN.
    let health = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let app = ServiceApp::start_with_health_port(&SERVICE, db.clone(), false, health).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        app.health_of(INTAKE).await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health_port(health, INTAKE).await,
        ServingStatus::NotServing as i32,
        "the health port tells the same"
    );
    // The separate `intake migrate` step (a Kubernetes Job) runs; readiness follows.
    let owner = db.url_as(&fallwerk_tests::owner_role("intake"));
    let runtime = fallwerk_tests::runtime_role("intake");
    let cli = SERVICE
        .parse_cli([
            "intake",
            "--database-url",
            &owner,
            "--db-runtime-role",
            &runtime,
            "migrate",
        ])
        .expect("cli");
    let all = SERVICE.migrator.service_ids().len() + 6;
    assert_eq!(SERVICE.migrate(&cli.database).await.expect("migrate"), all);
    app.wait_serving().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while health_port(health, INTAKE).await != ServingStatus::Serving as i32 {
        assert!(
            std::time::Instant::now() < deadline,
            "the health port follows readiness"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Running it again finds nothing to do.
    assert_eq!(
        SERVICE.migrate(&cli.database).await.expect("migrate again"),
        0
    );
}

#[tokio::test]
async fn reflection_answers_in_v1_and_v1alpha_without_a_token() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = ServiceApp::spawn(&SERVICE).await;

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel().await);
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1 reflection")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("unexpected v1 answer {answer:?}");
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"fallwerk.intake.v1.IntakeService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel().await);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                "fallwerk.intake.v1.IntakeService".into(),
            ),
        ),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1alpha reflection")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("answer")
        .expect("one answer");
    assert!(
        matches!(
            answer.message_response,
            Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_setting_with_exit_code_2() {
    let error = SERVICE
        .parse_cli([
            "intake",
            "--database-url",
            "postgres://x/y",
            "--db-max-connections",
            "0",
            "migrate",
        ])
        .expect_err("zero connections");
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().contains("--db-max-connections"),
        "{error}"
    );

    let db = TestDatabase::create().await;
    let cli = SERVICE
        .parse_cli([
            "intake",
            "--database-url",
            &db.url,
            "serve",
            "--jwks-file",
            "/nonexistent/jwks.json",
        ])
        .expect("parses");
    let fallwerk_platform::app::Command::Serve(serve) = cli.command else {
        unreachable!()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let result = SERVICE
        .run(
            listener,
            &cli.database,
            &serve,
            std::sync::Arc::new(fallwerk_platform::clock::SystemClock),
            tokio_util::sync::CancellationToken::new(),
        )
        .await;
    match result {
        Err(fallwerk_platform::app::RunError::Config(e)) => assert_eq!(e.setting, "JWKS_FILE"),
        other => panic!("expected a configuration error, got {other:?}"),
    }

    // Neither a certificate nor plaintext asked for by name: no start in the clear.
    let jwks = fallwerk_tests::jwks_file().to_string_lossy().into_owned();
    let token = fallwerk_tests::service_token_file("intake")
        .to_string_lossy()
        .into_owned();
    let cli = SERVICE
        .parse_cli([
            "intake",
            "--database-url",
            &db.url,
            "serve",
            "--jwks-file",
            &jwks,
            "--service-token-file",
            &token,
            "--upstream",
            "case-plan=http://127.0.0.1:9",
        ])
        .expect("parses");
    let fallwerk_platform::app::Command::Serve(serve) = cli.command else {
        unreachable!()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let result = SERVICE
        .run(
            listener,
            &cli.database,
            &serve,
            std::sync::Arc::new(fallwerk_platform::clock::SystemClock),
            tokio_util::sync::CancellationToken::new(),
        )
        .await;
    match result {
        Err(fallwerk_platform::app::RunError::Serve(
            fallwerk_platform::server::ServeError::Config(e),
        )) => {
            assert_eq!(e.setting, "TLS_CERT_FILE")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn shutdown_turns_health_off_and_stops_the_server() {
    let app = ServiceApp::spawn(&SERVICE).await;
    let addr = app.addr;
    let mut client: IntakeClient = app.client(&token("admin", &[Role::Admin], None)).await;
    client
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect("serving before shutdown");
    app.stop().await.expect("clean stop");
    let after = client
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .expect_err("stopped");
    assert_eq!(after.code(), tonic::Code::Unavailable, "{after:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn a_stored_value_this_build_does_not_know_fails_the_read_instead_of_defaulting() {
    // During a rolling update an older replica can read a value that a newer one wrote.
    let pool = TestDatabase::create().await.pool().await;
    let known: VisitState = sqlx::query_scalar("SELECT $1::text")
        .bind(VisitState::InConsultation)
        .fetch_one(&pool)
        .await
        .expect("a known value is written and read as itself");
    assert_eq!(known, VisitState::InConsultation);
    let unknown = sqlx::query_scalar::<_, VisitState>("SELECT 'ON_HOLD'::text")
        .fetch_one(&pool)
        .await;
    assert!(
        matches!(unknown, Err(sqlx::Error::ColumnDecode { .. })),
        "{unknown:?}"
    );
}

/// intake's client over [`SafeRetries`], as fallwerk's own clients have it.
fn safe_retries_client(
    app: &ServiceApp,
) -> pb::intake_service_client::IntakeServiceClient<
    tonic::service::interceptor::InterceptedService<
        fallwerk_platform::client::SafeRetries,
        fallwerk_tests::Bearer,
    >,
> {
    use fallwerk_platform::client::{ClientTls, SafeRetries, channel};
    let lazy = channel(
        format!("http://{}", app.addr).parse().expect("uri"),
        &ClientTls::default(),
    )
    .expect("channel");
    let admin = token("admin-1", &[Role::Admin], None);
    pb::intake_service_client::IntakeServiceClient::with_interceptor(
        SafeRetries::new(lazy),
        fallwerk_tests::Bearer::new(&admin),
    )
}

#[tokio::test]
async fn the_cli_channel_asks_a_read_again_across_a_restart_and_never_a_write() {
    let mut app = ServiceApp::spawn(&SERVICE).await;
    let mut client = safe_retries_client(&app);
    app.pause().await;

    // A write finds nothing listening and is answered at once: it is not asked again.
    let write = client
        .create_team(pb::CreateTeamRequest {
            team: Some(pb::Team {
                display_name: "Aktivierung Nord".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("intake is stopped");
    assert_eq!(write.code(), tonic::Code::Unavailable, "{write:?}");

    // A read started while intake is stopped is answered once it is back (the retries wait
    // about 1.5 s at least; the restart comes after 300 ms).
    let read = tokio::spawn(async move {
        let mut request = tonic::Request::new(pb::ListTeamsRequest::default());
        request.set_timeout(std::time::Duration::from_secs(10));
        client.list_teams(request).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.resume().await;
    let teams = read
        .await
        .expect("read task")
        .expect("the read is answered after the restart");
    assert!(
        teams.into_inner().teams.is_empty(),
        "the write never happened"
    );
}

#[tokio::test]
async fn a_create_marked_idempotent_is_asked_again_across_a_restart_and_done_once() {
    let mut app = ServiceApp::spawn(&SERVICE).await;
    let mut client = safe_retries_client(&app);
    app.pause().await;
    let create = tokio::spawn(async move {
        let mut request = tonic::Request::new(pb::CreateTeamRequest {
            team: Some(pb::Team {
                display_name: "Aktivierung Nord".into(),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        });
        request.set_timeout(std::time::Duration::from_secs(10));
        request
            .extensions_mut()
            .insert(fallwerk_platform::client::Idempotent);
        client.create_team(request).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.resume().await;
    create
        .await
        .expect("create task")
        .expect("the create is answered after the restart");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM intake.teams")
        .fetch_one(&app.db.pool().await)
        .await
        .expect("count");
    assert_eq!(count, 1);
}
