//! Erasure across the services: a closed case past its period is erased in case-plan, partner
//! follows its `CaseErased`, intake then erases the client; each leaves its proof, no personal
//! data is left, and the figures still add up.

use std::time::Duration;

use chrono::Months;
use fallwerk_proto::{caseplan, intake, types};
use fallwerk_tests::{ServiceApp, tables_mentioning, world::today};
use tonic::Code;
use types::DataCategory::{Identity, PlanSteps};

use crate::{Cooperation, WorldExt, date};

/// The proof rows of `app`'s schema: class, record id and cause.
async fn proof(app: &ServiceApp) -> Vec<(String, String, String)> {
    let statement = format!(
        "SELECT record_class, record_id::text, cause FROM {}.erasure_proof ORDER BY seq",
        app.service.migrator.schema()
    );
    sqlx::query_as(sqlx::AssertSqlSafe(statement))
        .fetch_all(&app.db.pool().await)
        .await
        .expect("proof")
}

/// Waits (up to 10 s) until `app` has proven `count` erasures.
async fn eventually_proven(app: &ServiceApp, count: usize) -> Vec<(String, String, String)> {
    for _ in 0..100 {
        let rows = proof(app).await;
        if rows.len() >= count {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} did not prove {count} erasures", app.service.name);
}

async fn figures(
    c: &Cooperation,
) -> (
    intake::GetTeamFiguresResponse,
    caseplan::GetCaseFiguresResponse,
) {
    let office = &c.world.office;
    let at_intake = office
        .client(&office.lead)
        .await
        .get_team_figures(intake::GetTeamFiguresRequest {
            team_id: office.team.to_string(),
            start_date: date(2026, 6, 1),
            end_date: date(2027, 5, 31),
        })
        .await
        .expect("intake figures")
        .into_inner();
    let in_case_plan = c
        .world
        .plans(&office.lead)
        .await
        .get_case_figures(caseplan::GetCaseFiguresRequest {
            start_date: date(2026, 6, 1),
            end_date: date(2027, 5, 31),
            agreement_within_days: 14,
        })
        .await
        .expect("case figures")
        .into_inner();
    (at_intake, in_case_plan)
}

#[tokio::test]
async fn a_closed_case_past_its_period_is_erased_in_every_service_with_proof() {
    let c = Cooperation::open(2).await;
    c.consent(&[Identity, PlanSteps]).await;
    let referral = c.refer(&[Identity, PlanSteps]).await;
    let world = &c.world;
    let office = &world.office;
    let case = world.read_case(&office.advisor, &c.case.id).await;
    world
        .plans(&office.advisor)
        .await
        .close_case(caseplan::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: Some(caseplan::Closure {
                outcome: caseplan::CaseOutcome::WorkTakenUp.into(),
                note: "Stelle als Pflegehelferin bei der Diakonie".into(),
                follow_up_date: date(2027, 3, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed");
    // The figures once intake has counted the case out of the advisor's caseload.
    office.eventually_open_cases_of("advisor-1", 0).await;
    let before = figures(&c).await;
    let texts = [
        "Weber",
        "Stelle als Pflegehelferin",
        referral.reason.as_str(),
        c.plan.goals[0].own_words.as_str(),
    ];
    let partner_pool = world.partner().db.pool().await;
    assert_eq!(
        tables_mentioning(&partner_pool, "partner", &referral.reason).await,
        ["referrals"],
        "the scan finds the referral before the erasure"
    );

    let later = today() + Months::new(12 * 11);
    let dry = world.case_plan.retention_run(later, true).await;
    assert_eq!(
        dry.classes[0].due,
        [case.id.parse::<uuid::Uuid>().expect("uuid")]
    );
    world.read_case(&office.advisor, &case.id).await;

    let run = world.case_plan.retention_run(later, false).await;
    assert_eq!(run.classes[0].erased, 1);
    let read = world
        .plans(&office.advisor)
        .await
        .get_case(caseplan::GetCaseRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(read.expect_err("erased").code(), Code::NotFound);
    let retention = |class: &str| (class.to_owned(), case.id.clone(), "retention".to_owned());
    assert_eq!(proof(&world.case_plan).await, [retention("closed_case")]);

    // partner follows case-plan's CaseErased.
    let at_partner = eventually_proven(world.partner(), 1).await;
    assert_eq!(
        at_partner,
        [(
            "referred_case".to_owned(),
            case.id.clone(),
            "fallwerk.caseplan.v1.CaseErased".to_owned()
        )]
    );

    // intake learns of it, and its next run erases the client.
    world.intake_learns_erasure_of(&case.id).await;
    let at_intake = office.app.retention_run(later, false).await;
    assert_eq!(at_intake.classes[1].erased, 1, "{at_intake:?}");

    for (app, schema) in [
        (&office.app, "intake"),
        (&world.case_plan, "caseplan"),
        (world.partner(), "partner"),
    ] {
        let pool = app.db.pool().await;
        for text in texts {
            assert_eq!(
                tables_mentioning(&pool, schema, text).await,
                Vec::<String>::new(),
                "{text:?} is still stored in {schema}"
            );
        }
    }
    assert_eq!(figures(&c).await, before, "the figures still add up");
}
