//! The load generator against running services: every step of the arrival scenario answers,
//! and the opened cases are read in case-plan. Counts only; tests never assert timings.

use crate::World;

fn steps(report: &fallwerk_load::report::Report) -> Vec<(&str, u64, usize)> {
    report
        .steps
        .iter()
        .map(|s| (s.step, s.ok, s.errors.len()))
        .collect()
}

#[tokio::test]
async fn the_closed_model_takes_every_iteration_along_the_whole_arrival() {
    let world = World::open().await;
    let report =
        fallwerk_load::run(&world.load_config(&["--concurrency", "3", "--iterations", "12"]))
            .await
            .expect("run");
    assert_eq!(
        steps(&report),
        [
            ("intake CreateApplicant", 12, 0),
            ("intake RegisterVisit", 12, 0),
            ("intake RecordAccessCheck", 12, 0),
            ("intake StartConsultation", 12, 0),
            ("intake CompleteConsultation", 12, 0),
            ("intake OpenCase", 12, 0),
            ("intake → case-plan: case readable", 12, 0),
        ]
    );
    let json = report.json();
    assert_eq!(json["steps"][5]["ok"], 12);
    assert!(json["steps"][6]["latency_ms"]["p99"].as_f64().is_some());
}

#[tokio::test]
async fn the_open_model_starts_its_iterations_at_the_rate_for_the_duration() {
    let world = World::open().await;
    // 20 per second for 0.5 s: iterations 0..9 start (0, 50, ..., 450 ms).
    let report = fallwerk_load::run(&world.load_config(&["--rate", "20", "--duration", "500ms"]))
        .await
        .expect("run");
    let first = &report.steps[0];
    assert_eq!((first.step, first.ok), ("intake CreateApplicant", 10));
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.errors.is_empty() && s.ok == 10),
        "{report:?}"
    );
}

#[tokio::test]
async fn the_single_call_scenarios_send_exactly_their_call() {
    let world = World::open().await;
    for (scenario, step) in [
        ("register-visit", "intake RegisterVisit"),
        ("health", "intake Health/Check"),
    ] {
        let flags = [
            "--scenario",
            scenario,
            "--concurrency",
            "2",
            "--iterations",
            "10",
        ];
        let report = fallwerk_load::run(&world.load_config(&flags))
            .await
            .expect("run");
        assert_eq!(steps(&report), [(step, 10, 0)], "{scenario}");
    }
}
