//! The load generator's scenarios that cross all three services: the whole process reaches the
//! closed case in every iteration, and a mix runs each scenario by its weight. Counts and
//! database state only; tests never assert timings.

use fallwerk_load::report::Report;

use crate::{World, create_partner};

/// Steps of `--scenario process`, in order.
const PROCESS: [&str; 22] = [
    "intake CreateApplicant",
    "intake RegisterVisit",
    "intake RecordAccessCheck",
    "intake StartConsultation",
    "intake CompleteConsultation",
    "intake OpenCase",
    "intake → case-plan: case readable",
    "case-plan → partner: case known",
    "case-plan UpdateCase",
    "case-plan ReviseHelpPlan",
    "case-plan CreateAgreement",
    "case-plan ProposeAgreement",
    "case-plan AcceptAgreement",
    "partner RecordConsent",
    "partner CreateReferral",
    "partner → agency stream: referral delivered",
    "partner AcceptReferral",
    "partner ReportProgress",
    "partner CompleteReferral",
    "case-plan RecordReview",
    "case-plan GetCase",
    "case-plan CloseCase",
];

/// The three services, on the real clock: the tool dates consents and steps from today.
async fn world() -> World {
    let world = World::open_with_partner().await;
    for app in [
        &world.office.app,
        &world.case_plan,
        world.partner.as_ref().expect("partner"),
    ] {
        app.clock.set(chrono::Utc::now());
    }
    world
}

fn ok_of(report: &Report, step: &str) -> u64 {
    report
        .steps
        .iter()
        .find(|s| s.step == step)
        .map_or(0, |s| s.ok)
}

async fn count(app: &fallwerk_tests::ServiceApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.db.pool().await)
        .await
        .expect(sql)
}

#[tokio::test]
async fn the_process_scenario_takes_every_person_to_a_closed_case() {
    let world = world().await;
    let report = fallwerk_load::run(&world.load_config(&[
        "--scenario",
        "process",
        "--concurrency",
        "2",
        "--iterations",
        "4",
    ]))
    .await
    .expect("run");
    let steps: Vec<(&str, u64, bool)> = report
        .steps
        .iter()
        .map(|s| (s.step, s.ok, s.errors.is_empty()))
        .collect();
    let expected: Vec<(&str, u64, bool)> = PROCESS.iter().map(|s| (*s, 4, true)).collect();
    assert_eq!(steps, expected, "first error: {:?}", report.first_error);

    // What the databases hold afterwards, not what the tool says.
    let partner = world.partner.as_ref().expect("partner");
    let closed = "SELECT count(*) FROM caseplan.cases WHERE state = 'closed'";
    assert_eq!(count(&world.case_plan, closed).await, 4);
    let completed = "SELECT count(*) FROM partner.referrals WHERE state = 'completed'";
    assert_eq!(count(partner, completed).await, 4);
    // Every call is on the timeline; propagations are not calls.
    let calls: u64 = report.timeline.iter().map(|s| s.ok + s.errors).sum();
    assert_eq!(calls, 4 * (PROCESS.len() as u64 - 3));
}

#[tokio::test]
async fn a_mix_runs_each_scenario_by_its_weight_on_cases_made_up_front() {
    let world = world().await;
    let report = fallwerk_load::run(&world.load_config(&[
        "--scenario",
        "mix",
        "--mix",
        "process=1,advisor-reads=2,agency=1",
        "--seed-cases",
        "2",
        "--concurrency",
        "2",
        "--iterations",
        "8",
    ]))
    .await
    .expect("run");
    assert!(
        report.steps.iter().all(|s| s.errors.is_empty()),
        "first error: {:?}",
        report.first_error
    );
    // 8 iterations of a 1:2:1 mix: 2 processes, 4 advisors' reads, 2 partner-system turns.
    assert_eq!(ok_of(&report, "case-plan CloseCase"), 2);
    for read in [
        "case-plan ListDueItems",
        "case-plan ListCases",
        "case-plan ListTimelineEntries",
    ] {
        assert_eq!(ok_of(&report, read), 4, "{read}");
    }
    // GetCase: once per advisor's read and once before each closure.
    assert_eq!(ok_of(&report, "case-plan GetCase"), 4 + 2);
    assert_eq!(ok_of(&report, "partner ListMyReferrals"), 2);
    assert_eq!(ok_of(&report, "partner GetMyReferral"), 2);
    // ReportProgress: once per partner-system turn and once in each process.
    assert_eq!(ok_of(&report, "partner ReportProgress"), 2 + 2);
    // The two cases made up front wait with an accepted referral; the processes' cases are
    // closed.
    let partner = world.partner.as_ref().expect("partner");
    let open = "SELECT count(*) FROM partner.referrals WHERE state IN ('accepted', 'in_progress')";
    assert_eq!(count(partner, open).await, 2);
    let closed = "SELECT count(*) FROM caseplan.cases WHERE state = 'closed'";
    assert_eq!(count(&world.case_plan, closed).await, 2);
}

#[tokio::test]
async fn tokens_from_files_run_the_process_as_the_people_they_name() {
    use fallwerk_platform::auth::Role;
    use fallwerk_proto::partner as pb;

    let world = world().await;
    let office = &world.office;
    let partner = world.partner.as_ref().expect("partner");
    let agency = create_partner(
        &mut partner.client(&office.admin).await,
        pb::PartnerKind::PublicHealthOffice,
        "Gesundheitsamt",
        "ga@stadt.example",
    )
    .await;

    // As an identity provider would issue them: the office's own desk, one advisor already in
    // the roster and one the run enrols, the agency's system.
    let dir = std::env::temp_dir().join(format!("fallwerk-load-tokens-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("dir");
    let newcomer = fallwerk_tests::token("load-newcomer", &[Role::Advisor], Some(office.team));
    let files = [
        ("admin", office.admin.clone()),
        ("front_desk", office.desk.clone()),
        ("advisors", format!("{}\n{newcomer}\n", office.advisor)),
        (
            "partner",
            fallwerk_tests::partner_token("ga-system", agency.id.parse().expect("uuid")),
        ),
    ];
    for (name, token) in files {
        std::fs::write(dir.join(name), token).expect("token file");
    }
    let token_dir = dir.to_string_lossy().into_owned();
    let report = fallwerk_load::run(&world.load_config(&[
        "--token-dir",
        &token_dir,
        "--scenario",
        "process",
        "--concurrency",
        "2",
        "--iterations",
        "2",
    ]))
    .await
    .expect("run");
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.errors.is_empty() && s.ok == 2),
        "first error: {:?}",
        report.first_error
    );
    let enrolled = "SELECT count(*) FROM intake.advisors WHERE subject = 'load-newcomer'";
    assert_eq!(count(&office.app, enrolled).await, 1);
    // Both advisors of the files carried a case through to its closure, in the desk's team.
    let closed = format!(
        "SELECT count(DISTINCT responsible_advisor_id) FROM caseplan.cases \
         WHERE state = 'closed' AND team_id = '{}'",
        office.team
    );
    assert_eq!(count(&world.case_plan, &closed).await, 2);
    let referred = format!(
        "SELECT count(*) FROM partner.referrals r JOIN partner.offers o ON o.id = r.offer_id \
         WHERE o.partner_id = '{}' AND r.state = 'completed'",
        agency.id
    );
    assert_eq!(count(partner, &referred).await, 2);
    let _ = std::fs::remove_dir_all(dir);
}
