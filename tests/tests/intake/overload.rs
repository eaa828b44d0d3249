//! Overload: a full service turns calls away at once (UNAVAILABLE, with RetryInfo) instead of
//! queueing without bound, and one caller cannot take every slot (RESOURCE_EXHAUSTED).

use std::time::Duration;

use fallwerk_intake::SERVICE;
use fallwerk_platform::auth::Role;
use fallwerk_proto::intake as pb;
use fallwerk_tests::{IntakeClient, ServiceApp, token};
use sqlx::Connection;
use tonic::Code;
use tonic_types::StatusExt;

/// Holds an exclusive lock on intake's teams, so every ListTeams waits until it is dropped.
async fn lock_teams(app: &ServiceApp) -> sqlx::PgConnection {
    let mut conn = sqlx::PgConnection::connect(&app.db.url)
        .await
        .expect("connect");
    sqlx::query("BEGIN")
        .execute(&mut conn)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE intake.teams IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .expect("lock");
    conn
}

async fn list_teams(client: &mut IntakeClient) -> Result<(), tonic::Status> {
    client
        .list_teams(pb::ListTeamsRequest::default())
        .await
        .map(drop)
}

#[tokio::test]
async fn a_full_service_turns_further_calls_away_and_serves_again_when_a_slot_frees() {
    let app = ServiceApp::spawn_tuned(&SERVICE, |server| {
        server.max_in_flight = 1;
        server.queue_wait_ms = 100;
    })
    .await;
    let lock = lock_teams(&app).await;
    let mut admin: IntakeClient = app.client(&token("admin-1", &[Role::Admin], None)).await;
    let mut desk: IntakeClient = app.client(&token("desk-1", &[Role::FrontDesk], None)).await;

    // The admin's call takes the only slot and waits for the lock.
    let held = tokio::spawn(async move { list_teams(&mut admin).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = list_teams(&mut desk).await.expect_err("no slot");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.get_details_retry_info().is_some(),
        "tells when to retry"
    );

    drop(lock);
    held.await
        .expect("joined")
        .expect("the held call is answered");
    list_teams(&mut desk).await.expect("a slot is free again");
}

#[tokio::test]
async fn one_caller_gets_its_share_and_others_still_get_in() {
    let app = ServiceApp::spawn_tuned(&SERVICE, |server| {
        server.max_in_flight_per_caller = 1;
    })
    .await;
    let lock = lock_teams(&app).await;
    let admin_token = token("admin-1", &[Role::Admin], None);
    let mut admin: IntakeClient = app.client(&admin_token).await;
    let held = tokio::spawn(async move { list_teams(&mut admin).await });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The same caller's second call is over its share, whatever connection it comes on.
    let mut again: IntakeClient = app.client(&admin_token).await;
    let refused = list_teams(&mut again).await.expect_err("over its share");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Another caller is served meanwhile (applicants are not locked).
    let mut desk: IntakeClient = app.client(&token("desk-1", &[Role::FrontDesk], None)).await;
    desk.search_applicants(pb::SearchApplicantsRequest {
        family_name: "Weber".into(),
        ..Default::default()
    })
    .await
    .expect("another caller gets in");

    drop(lock);
    held.await.expect("joined").expect("answered");
    list_teams(&mut again)
        .await
        .expect("its share is free again");
}
