//! The two services keep working when the other is away, and catch up with nothing missed or
//! doubled when it returns.

use fallwerk_proto::caseplan as pb;

use crate::World;

#[tokio::test]
async fn cases_opened_while_case_plan_is_down_each_arrive_once_when_it_returns() {
    let mut world = World::open().await;
    let office = &world.office;
    let before = world.case(&office.desk, &office.advisor).await;

    world.case_plan.pause().await;
    let mut opened = Vec::new();
    for _ in 0..3 {
        opened.push(world.open_case(&office.desk, &office.advisor).await.case_id);
    }
    world.case_plan.resume().await;

    for id in &opened {
        world.arrived(&office.advisor, id).await;
    }
    let pool = world.case_plan.db.pool().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM caseplan.cases")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(
        count, 4,
        "the case from before and the three opened meanwhile, once each"
    );
    let listed = world
        .plans(&office.lead)
        .await
        .list_cases(pb::ListCasesRequest {
            scope: pb::CaseScope::Team.into(),
            ..Default::default()
        })
        .await
        .expect("team cases")
        .into_inner();
    let mut expected = vec![before.id];
    expected.extend(opened);
    assert_eq!(
        listed.cases.into_iter().map(|c| c.id).collect::<Vec<_>>(),
        expected
    );
}

#[tokio::test]
async fn case_plan_serves_its_cases_while_intake_is_down() {
    let mut world = World::open().await;
    let case = world.case(&world.office.desk, &world.office.advisor).await;
    world.office.app.pause().await;

    let read = world.arrived(&world.office.advisor, &case.id).await;
    assert_eq!(read.id, case.id);
    let mut plans = world.plans(&world.office.advisor).await;
    plans
        .revise_help_plan(crate::first_plan(&case.id))
        .await
        .expect("planning goes on without intake");

    world.office.app.resume().await;
    // And intake, back, still opens cases that reach case-plan.
    world.case(&world.office.desk, &world.office.advisor).await;
}
