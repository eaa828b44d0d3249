//! Prometheus metrics. A test binary of its own: the metrics recorder is process-global.

use fallwerk_platform::{auth::Role, config::MetricsListen};
use fallwerk_proto::intake as pb;
use fallwerk_tests::{IntakeApp, token};
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
    body.lines()
        .find(|l| l.starts_with(name) && labels.iter().all(|label| l.contains(label)))
}

#[tokio::test]
async fn metrics_count_each_rpc_by_method_and_code_time_it_and_show_the_pool() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    let addr = free.local_addr().expect("addr");
    drop(free);
    fallwerk_platform::telemetry::init_metrics(MetricsListen::Addr(addr));
    let app = IntakeApp::spawn().await;

    let mut admin = app.client(&token("admin", &[Role::Admin], None)).await;
    admin
        .list_teams(pb::ListTeamsRequest {})
        .await
        .expect("listed");
    admin
        .list_teams(pb::ListTeamsRequest {})
        .await
        .expect("listed");
    let mut desk = app.client(&token("desk", &[Role::FrontDesk], None)).await;
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
        line(&body, "db_pool_connections", &[r#"state="idle""#]).is_some(),
        "pool figures"
    );
    app.stop().await.expect("stop");
}
