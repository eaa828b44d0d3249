//! Authentication and authorization at intake: another team's object, not found; keys from
//! the identity provider. Which role may call which RPC is the cross-service table in the
//! partner suite (`matrix.rs`).

use std::{
    str::FromStr,
    sync::{Arc, Mutex},
};

use fallwerk_devkey::DevKey;
use fallwerk_intake::SERVICE;
use fallwerk_platform::auth::Role;
use fallwerk_proto::intake as pb;
use fallwerk_tests::ServiceApp;
use tonic::Code;

use crate::{Office, complete};

/// Calls `method` with an empty request (valid protobuf for every message) and `token`.
async fn call(app: &ServiceApp, token: &str, method: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(app.channel().await);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(());
    if !token.is_empty() {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    let path =
        http::uri::PathAndQuery::from_str(&format!("/fallwerk.intake.v1.IntakeService/{method}"))
            .expect("path");
    match grpc
        .unary::<(), (), _>(request, path, tonic_prost::ProstCodec::default())
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

#[tokio::test]
async fn another_teams_objects_are_not_found() {
    let office = Office::open().await;
    let visit = office.visit(&office.desk).await;
    let ready = office.ready_visit(&office.desk).await;
    let started = office.consultation(&office.desk, &office.advisor).await;
    let completed = office
        .completed_consultation(&office.desk, &office.advisor)
        .await;
    let mut other_desk = office.client(&office.other_desk).await;
    let mut other_advisor = office.client(&office.other_advisor).await;
    let mut other_lead = office.client(&office.other_lead).await;
    let not_found = |result: Result<_, tonic::Status>, what: &str| {
        let status = result
            .err()
            .unwrap_or_else(|| panic!("{what} must be refused"));
        assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
    };

    not_found(
        other_desk
            .get_visit(pb::GetVisitRequest {
                id: visit.id.clone(),
            })
            .await
            .map(drop),
        "GetVisit",
    );
    not_found(
        other_desk
            .record_access_check(crate::continue_check(&visit.id))
            .await
            .map(drop),
        "RecordAccessCheck",
    );
    not_found(
        other_advisor
            .start_consultation(pb::StartConsultationRequest {
                visit_id: ready.id.clone(),
                request_id: String::new(),
            })
            .await
            .map(drop),
        "StartConsultation",
    );
    not_found(
        other_advisor
            .complete_consultation(complete(&started.id))
            .await
            .map(drop),
        "CompleteConsultation",
    );
    not_found(
        other_advisor
            .get_consultation(pb::GetConsultationRequest {
                id: completed.id.clone(),
            })
            .await
            .map(drop),
        "GetConsultation (advisor)",
    );
    not_found(
        other_lead
            .get_consultation(pb::GetConsultationRequest {
                id: completed.id.clone(),
            })
            .await
            .map(drop),
        "GetConsultation (team lead)",
    );
    not_found(
        other_advisor
            .open_case(pb::OpenCaseRequest {
                consultation_id: completed.id.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
        "OpenCase",
    );
    let team_advisors = office.advisors().await;
    not_found(
        other_lead
            .list_advisors(pb::ListAdvisorsRequest {
                team_id: office.team.to_string(),
                ..Default::default()
            })
            .await
            .map(drop),
        "ListAdvisors",
    );
    not_found(
        other_lead
            .get_advisor(pb::GetAdvisorRequest {
                id: team_advisors[0].id.clone(),
            })
            .await
            .map(drop),
        "GetAdvisor",
    );
    let mut update = team_advisors[0].clone();
    update.capacity = 1;
    not_found(
        other_lead
            .update_advisor(pb::UpdateAdvisorRequest {
                advisor: Some(update),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["capacity".into()],
                }),
            })
            .await
            .map(drop),
        "UpdateAdvisor",
    );
    not_found(
        other_lead
            .create_advisor(pb::CreateAdvisorRequest {
                advisor: Some(pb::Advisor {
                    team_id: office.team.to_string(),
                    subject: "intruder".into(),
                    display_name: "Intruder".into(),
                    function: pb::AdvisorFunction::Administrative.into(),
                    capacity: 10,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(drop),
        "CreateAdvisor",
    );
    not_found(
        other_lead
            .get_team_figures(pb::GetTeamFiguresRequest {
                team_id: office.team.to_string(),
                start_date: crate::date(2026, 1, 1),
                end_date: crate::date(2026, 1, 31),
            })
            .await
            .map(drop),
        "GetTeamFigures",
    );

    // Lists of another team's objects are simply without them.
    let queue = office.queue(&office.other_desk).await;
    assert!(
        queue.is_empty(),
        "team B's queue holds none of team A's visits"
    );
    let history = other_desk
        .list_visits(pb::ListVisitsRequest {
            applicant_id: visit.applicant_id.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner();
    assert!(
        history.visits.is_empty(),
        "team B sees none of team A's visits"
    );

    // Within the team: only the consulting advisor completes.
    let refused = office
        .client(&office.second_advisor)
        .await
        .complete_consultation(complete(&started.id))
        .await
        .expect_err("not the consulting advisor");
    assert_eq!(refused.code(), Code::PermissionDenied);
}

/// A stand-in for the cluster identity provider: answers every request with the current JWKS.
async fn identity_provider(jwks: Arc<Mutex<String>>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = jwks.lock().expect("jwks").clone();
            tokio::spawn(async move {
                let mut head = vec![0u8; 8192];
                let _ = stream.read(&mut head).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn keys_come_from_the_identity_providers_url_and_a_rotation_needs_no_restart() {
    let old_key = DevKey::generate().expect("key");
    let new_key = DevKey::generate().expect("key");
    let jwks = Arc::new(Mutex::new(old_key.jwks_json()));
    let idp = identity_provider(Arc::clone(&jwks)).await;
    let app = ServiceApp::spawn_with_jwks_url(
        &SERVICE,
        &format!("http://{idp}/realms/office/protocol/openid-connect/certs"),
    )
    .await;
    let spec = |_: ()| fallwerk_devkey::TokenSpec {
        subject: "admin".into(),
        roles: vec![Role::Admin],
        team_id: None,
        partner_id: None,
        ttl: std::time::Duration::from_secs(300),
    };
    assert_eq!(
        call(&app, &old_key.mint(&spec(())), "ListTeams")
            .await
            .code(),
        Code::Ok
    );
    assert_eq!(
        call(&app, &new_key.mint(&spec(())), "ListTeams")
            .await
            .code(),
        Code::Unauthenticated
    );

    // The IdP rotates; a token with the new key id makes the service fetch again (at most
    // once every 10 s, and the refused token above already used that turn).
    *jwks.lock().expect("jwks") = new_key.jwks_json();
    let mut accepted = false;
    for _ in 0..150 {
        if call(&app, &new_key.mint(&spec(())), "ListTeams")
            .await
            .code()
            == Code::Ok
        {
            accepted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(accepted, "the new key is used without a restart");
    assert_eq!(
        call(&app, &old_key.mint(&spec(())), "ListTeams")
            .await
            .code(),
        Code::Unauthenticated,
        "the retired key no longer verifies"
    );
}
