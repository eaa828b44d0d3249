//! Clients in other languages prove the contract against the real services: the partner agency
//! examples in Python (examples/python, grpcio from PyPI, code generated from proto/) and in
//! Node.js (examples/node, @grpc/grpc-js and @grpc/proto-loader from npm) work a referral
//! through and read the error model, and a generic client that has nothing but an address
//! describes every service by server reflection.

use std::process::Command;

use fallwerk_proto::types;

use crate::{Cooperation, WorldExt};

#[tokio::test]
async fn the_python_partner_client_works_a_referral_through_and_reads_the_error_model() {
    let work = work_dir("python");
    let script = repository().join("examples/python/partner_agency.py");
    let stubs = work.join("gen");
    let mut args: Vec<std::ffi::OsString> = vec![script.into()];
    args.extend(["--stubs".into(), stubs.into()]);
    partner_client_works_a_referral_through(python(), args, &work).await;
}

#[tokio::test]
async fn the_node_partner_client_works_a_referral_through_and_reads_the_error_model() {
    let work = work_dir("node");
    let script = repository().join("examples/node/partner_agency.js");
    partner_client_works_a_referral_through(node(), vec![script.into()], &work).await;
}

/// Runs a partner agency client (`program` with `args`, then `--addr`, `--token-file` and
/// `--timeout`) against a referral waiting for its partner, and checks what it printed and
/// what partner holds afterwards.
async fn partner_client_works_a_referral_through(
    program: String,
    args: Vec<std::ffi::OsString>,
    work: &std::path::Path,
) {
    let cooperation = Cooperation::open(3).await;
    let categories = [types::DataCategory::Household];
    cooperation.consent(&categories).await;
    let referral = cooperation.refer(&categories).await;
    let token_file = work.join("partner.jwt");
    std::fs::write(&token_file, &cooperation.agency).expect("token file");

    let addr = cooperation.world.partner().addr.to_string();
    let run = tokio::task::spawn_blocking(move || {
        Command::new(program)
            .args(args)
            .args(["--addr", &addr, "--timeout", "60"])
            .arg("--token-file")
            .arg(&token_file)
            .output()
    })
    .await
    .expect("task")
    .expect("the example runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let steps: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "offered",
            "accepted",
            "reported",
            "completed",
            "capacity",
            "bad_request",
            "wrong_state"
        ]
    );
    assert_eq!(steps[0]["referral_id"], referral.id);
    assert_eq!(
        steps[0]["categories"],
        serde_json::json!(["DATA_CATEGORY_HOUSEHOLD"])
    );
    assert_eq!(steps[1]["state"], "REFERRAL_STATE_ACCEPTED");
    assert_eq!(steps[3]["state"], "REFERRAL_STATE_COMPLETED");
    assert_eq!(steps[4]["places"], 12);
    // Python read the BadRequest's field violations and the ErrorInfo's reason.
    assert_eq!(steps[5]["code"], "INVALID_ARGUMENT");
    let mut fields: Vec<&str> = steps[5]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    fields.sort();
    assert_eq!(fields, ["progress", "referral_id", "request_id"]);
    assert_eq!(steps[6]["code"], "FAILED_PRECONDITION");
    assert_eq!(steps[6]["reason"], "REFERRAL_NOT_SENT");

    // What partner holds afterwards, not what the client printed.
    let pool = cooperation.world.partner().db.pool().await;
    let state: String = sqlx::query_scalar("SELECT state FROM partner.referrals WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&referral.id).expect("uuid"))
        .fetch_one(&pool)
        .await
        .expect("referral");
    assert_eq!(state, "completed");
    let places: i32 = sqlx::query_scalar("SELECT places FROM partner.offers WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&cooperation.offer.id).expect("uuid"))
        .fetch_one(&pool)
        .await
        .expect("offer");
    assert_eq!(places, 12);
    let _ = std::fs::remove_dir_all(work);
}

#[tokio::test]
async fn a_generic_client_lists_and_describes_every_service_by_reflection_alone() {
    use std::collections::{BTreeMap, BTreeSet};

    use prost::Message;

    let world = crate::World::open_with_partner().await;
    let python = python();
    let root = repository();
    let mut described: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (app, own) in [
        (&world.office.app, "fallwerk.intake.v1.IntakeService"),
        (&world.case_plan, "fallwerk.caseplan.v1.CasePlanService"),
        (world.partner(), "fallwerk.partner.v1.PartnerService"),
    ] {
        let addr = app.addr.to_string();
        let (python, root) = (python.clone(), root.clone());
        let run = tokio::task::spawn_blocking(move || {
            Command::new(python)
                .arg(root.join("examples/python/reflect.py"))
                .args(["--addr", &addr])
                .output()
        })
        .await
        .expect("task")
        .expect("the reflection client runs");
        assert!(
            run.status.success(),
            "reflection of {own}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let services: BTreeMap<String, Vec<serde_json::Value>> =
            serde_json::from_slice(&run.stdout).expect("JSON");
        for served in [
            own,
            "fallwerk.feed.v1.EventFeedService",
            "grpc.health.v1.Health",
        ] {
            assert!(
                services.contains_key(served),
                "{own}'s server lists {served}"
            );
        }
        described.extend(services);
    }

    // Every RPC of the contract is described by the server that offers it, as the contract
    // has it: request and response types, and whether it streams.
    let contract = prost_types::FileDescriptorSet::decode(fallwerk_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut expected = BTreeSet::new();
    for file in contract
        .file
        .iter()
        .filter(|f| f.package().starts_with("fallwerk."))
    {
        for service in &file.service {
            for method in &service.method {
                expected.insert((
                    format!("{}.{}", file.package(), service.name()),
                    method.name().to_owned(),
                    method.input_type().trim_start_matches('.').to_owned(),
                    method.output_type().trim_start_matches('.').to_owned(),
                    method.server_streaming(),
                ));
            }
        }
    }
    let reflected: BTreeSet<_> = described
        .iter()
        .filter(|(service, _)| service.starts_with("fallwerk."))
        .flat_map(|(service, methods)| {
            methods.iter().map(move |m| {
                (
                    service.clone(),
                    m["method"].as_str().unwrap_or_default().to_owned(),
                    m["request"].as_str().unwrap_or_default().to_owned(),
                    m["response"].as_str().unwrap_or_default().to_owned(),
                    m["server_streaming"].as_bool().unwrap_or_default(),
                )
            })
        })
        .collect();
    assert_eq!(reflected, expected);
}

/// A directory of its own for one test's files.
fn work_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fallwerk-{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// Node.js with the example's packages (examples/node/setup.sh installs them when missing).
fn node() -> String {
    setup("examples/node/setup.sh")
}

/// The example's Python (examples/python/setup.sh makes it when missing).
fn python() -> String {
    setup("examples/python/setup.sh")
}

/// Runs a setup script of the examples; the interpreter it prints.
fn setup(script: &str) -> String {
    let setup = Command::new(repository().join(script))
        .output()
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    assert!(
        setup.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    String::from_utf8(setup.stdout)
        .expect("a path")
        .trim()
        .to_owned()
}

fn repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
