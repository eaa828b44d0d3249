//! Mutual TLS: with `TLS_CLIENT_CA_FILE` set, a partner system's call needs a client
//! certificate of its own partner; staff clients still need none. Certificates renewed on disk
//! are served without a restart.

use std::{sync::Arc, time::Duration};

use fallwerk_partner::SERVICE;
use fallwerk_platform::{app::Command, auth::Role, clock::SystemClock};
use fallwerk_proto::partner as pb;
use fallwerk_tests::{
    TestDatabase, partner_token,
    tls::{Pem, Pki},
    token,
};
use tokio_util::sync::CancellationToken;
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

/// A TLS channel to `port`, trusting `pki`'s CA, presenting `client` if any.
async fn channel(
    pki: &Pki,
    port: u16,
    client: Option<&Pem>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(pki.ca()))
        .domain_name("localhost");
    if let Some(client) = client {
        tls = tls.identity(Identity::from_pem(&client.cert, &client.key));
    }
    Channel::from_shared(format!("https://127.0.0.1:{port}"))
        .expect("uri")
        .tls_config(tls)?
        .connect()
        .await
}

fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

/// partner started with TLS from `cert` and `key` and the `extra` serve flags, on a fresh
/// database: its port, and how to stop it.
async fn serve_partner(
    cert: &std::path::Path,
    key: &std::path::Path,
    extra: &[&str],
) -> (
    u16,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), fallwerk_platform::app::RunError>>,
) {
    let db = TestDatabase::migrated(&SERVICE.migrator).await;
    let database_url = db.runtime_url(SERVICE.migrator.schema());
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let jwks = path(fallwerk_tests::jwks_file());
    let service_token = path(&fallwerk_tests::service_token_file("partner"));
    let (cert, key) = (path(cert), path(key));
    let mut args = vec![
        "partner",
        "--database-url",
        &database_url,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--jwks-file",
        &jwks,
        "--service-token-file",
        &service_token,
        "--upstream",
        "case-plan=http://127.0.0.1:9",
        "--upstream",
        "intake=http://127.0.0.1:9",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    args.extend_from_slice(extra);
    let cli = SERVICE.parse_cli(args).expect("valid settings");
    let Command::Serve(serve) = cli.command else {
        unreachable!("serve was given")
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            SERVICE
                .run(
                    listener,
                    &cli.database,
                    &serve,
                    Arc::new(SystemClock),
                    shutdown,
                )
                .await
        }
    });
    (port, shutdown, running)
}

#[tokio::test]
async fn with_mutual_tls_a_partner_system_needs_the_certificate_of_its_own_partner() {
    let pki = Pki::new("office-ca");
    let (ca, cert, key) = pki.server_files();
    let ca = ca.to_string_lossy().into_owned();
    let (port, shutdown, running) = serve_partner(&cert, &key, &["--tls-client-ca", &ca]).await;

    // Staff need no certificate: an admin creates the partner.
    let admin = token("admin-1", &[Role::Admin], None);
    let staff_channel = channel(&pki, port, None)
        .await
        .expect("TLS without a client certificate");
    let mut staff = pb::partner_service_client::PartnerServiceClient::new(staff_channel);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let partner = loop {
        let created = staff
            .create_partner(bearer(
                pb::CreatePartnerRequest {
                    partner: Some(pb::Partner {
                        kind: pb::PartnerKind::WelfareAssociation.into(),
                        display_name: "Kita-Lotsen".into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &admin,
            ))
            .await;
        match created {
            Ok(answer) => break answer.into_inner().partner.expect("partner"),
            Err(status) if std::time::Instant::now() < deadline => {
                assert_ne!(status.code(), Code::PermissionDenied, "{status:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("partner never served: {status:?}"),
        }
    };
    let partner_id: uuid::Uuid = partner.id.parse().expect("uuid");
    let system = partner_token("kita-system", partner_id);
    let list = || bearer(pb::ListMyReferralsRequest::default(), &system);
    let agency =
        |channel| pb::partner_agency_service_client::PartnerAgencyServiceClient::new(channel);

    let own = pki.client(
        "own",
        &fallwerk_platform::server::partner_certificate_name(&partner.id),
    );
    agency(channel(&pki, port, Some(&own)).await.expect("mTLS"))
        .list_my_referrals(list())
        .await
        .expect("its own certificate and token");

    let other = pki.client(
        "other",
        &fallwerk_platform::server::partner_certificate_name(&uuid::Uuid::now_v7().to_string()),
    );
    let status = agency(channel(&pki, port, Some(&other)).await.expect("mTLS"))
        .list_my_referrals(list())
        .await
        .expect_err("another partner's certificate");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    let status = agency(channel(&pki, port, None).await.expect("TLS"))
        .list_my_referrals(list())
        .await
        .expect_err("no certificate");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // A wildcard certificate from the office's own CA would act for every partner.
    let wildcard = pki.client("wildcard", "*.partner.fallwerk");
    let status = agency(channel(&pki, port, Some(&wildcard)).await.expect("mTLS"))
        .list_my_referrals(list())
        .await
        .expect_err("a wildcard certificate");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    // A certificate from a CA the service does not trust does not get through the handshake.
    let stranger_pki = Pki::new("stranger-ca");
    let stranger = stranger_pki.client(
        "stranger",
        &fallwerk_platform::server::partner_certificate_name(&partner.id),
    );
    let refused = match channel(&pki, port, Some(&stranger)).await {
        Err(_) => true,
        Ok(channel) => agency(channel).list_my_referrals(list()).await.is_err(),
    };
    assert!(refused, "an untrusted client certificate is refused");

    shutdown.cancel();
    running.await.expect("task").expect("clean stop");
}

/// Copies `from` over `to` the way a Secret update lands: written aside, then renamed.
fn replace_file(from: &std::path::Path, to: &std::path::Path) {
    let aside = to.with_extension("new");
    std::fs::copy(from, &aside).expect("copy");
    std::fs::rename(&aside, to).expect("rename");
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let first = Pki::new("first-ca");
    let renewed = Pki::new("renewed-ca");
    let dir = std::env::temp_dir().join(format!("fallwerk-tls-reload-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let (_, first_cert, first_key) = first.server_files();
    replace_file(&first_cert, &cert);
    replace_file(&first_key, &key);
    let (port, shutdown, running) = serve_partner(&cert, &key, &["--tls-reload-secs", "1"]).await;
    channel(&first, port, None)
        .await
        .expect("the first certificate is served");

    // A half-written update (a key that is no key) is not taken: the first keeps serving.
    std::fs::write(dir.join("garbage"), "not a key").expect("write");
    replace_file(&dir.join("garbage"), &key);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    channel(&first, port, None)
        .await
        .expect("still the first certificate");

    let (_, renewed_cert, renewed_key) = renewed.server_files();
    replace_file(&renewed_key, &key);
    replace_file(&renewed_cert, &cert);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while channel(&renewed, port, None).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the renewed certificate is never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        channel(&first, port, None).await.is_err(),
        "the old certificate is no longer served"
    );

    shutdown.cancel();
    running.await.expect("task").expect("clean stop");
}

#[tokio::test]
async fn with_mutual_tls_a_service_token_needs_the_certificate_of_its_subject() {
    use fallwerk_platform::client::{ClientTls, channel as platform_channel};
    use fallwerk_proto::feed::{
        SubscribeRequest, event_feed_service_client::EventFeedServiceClient,
    };
    let pki = Pki::new("office-ca");
    let (ca, cert, key) = pki.server_files();
    let ca_path = ca.to_string_lossy().into_owned();
    let (port, shutdown, running) =
        serve_partner(&cert, &key, &["--tls-client-ca", &ca_path]).await;
    // case-plan's feed subscriber, as its UPSTREAM_* settings configure it.
    let service = token("case-plan", &[Role::Service], None);
    let subscribe = |identity: Option<&Pem>| {
        let tls = ClientTls {
            ca: Some(Certificate::from_pem(pki.ca())),
            identity: identity.map(|pem| Identity::from_pem(&pem.cert, &pem.key)),
        };
        let uri = format!("https://localhost:{port}").parse().expect("uri");
        let mut feed = EventFeedServiceClient::new(platform_channel(uri, &tls).expect("channel"));
        let service = service.clone();
        async move {
            feed.subscribe(bearer(SubscribeRequest::default(), &service))
                .await
                .map(drop)
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let own = pki.client(
        "case-plan",
        &fallwerk_platform::server::service_certificate_name("case-plan"),
    );
    // The service's own certificate and token (once partner serves).
    while let Err(status) = subscribe(Some(&own)).await {
        assert_ne!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(
            std::time::Instant::now() < deadline,
            "never served: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let without = subscribe(None).await.expect_err("no certificate");
    assert_eq!(without.code(), Code::PermissionDenied, "{without:?}");
    let intake = pki.client(
        "intake",
        &fallwerk_platform::server::service_certificate_name("intake"),
    );
    let other = subscribe(Some(&intake)).await.expect_err("another subject");
    assert_eq!(other.code(), Code::PermissionDenied, "{other:?}");

    shutdown.cancel();
    running.await.expect("task").expect("clean stop");
}
