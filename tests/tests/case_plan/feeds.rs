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
        let response = world.open_case(&office.desk, &office.advisor).await;
        let opening = response.case_opening.expect("opening");
        opened.push((opening.case_id, response.feed_position));
    }
    world.case_plan.resume().await;

    // Each read waits for the feed position OpenCase answered while case-plan was away.
    for (id, position) in &opened {
        assert!(*position > 0, "intake knew the position at once");
        world.read_case_at(&office.advisor, id, *position).await;
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
    expected.extend(opened.into_iter().map(|(id, _)| id));
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

    let read = world.read_case(&world.office.advisor, &case.id).await;
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

#[tokio::test]
async fn a_read_waits_for_the_position_intake_answered_and_is_unavailable_if_it_never_comes() {
    let mut world = World::open().await;
    let office = &world.office;
    world.case_plan.pause().await;
    let response = world.open_case(&office.desk, &office.advisor).await;
    let opening = response.case_opening.expect("opening");

    // Asked while case-plan is still catching up, the read waits and then finds the case.
    let resume = world.case_plan.resume();
    resume.await;
    let case = world
        .read_case_at(&office.advisor, &opening.case_id, response.feed_position)
        .await;
    assert_eq!(case.id, opening.case_id);

    // A position intake never reached: the read gives up after its wait, retryable.
    let status = world
        .plans(&office.advisor)
        .await
        .get_case(pb::GetCaseRequest {
            case_id: opening.case_id.clone(),
            min_intake_position: response.feed_position + 1_000_000,
        })
        .await
        .expect_err("not reached");
    assert_eq!(status.code(), tonic::Code::Unavailable);
}

#[tokio::test]
async fn a_case_with_a_capacity_not_yet_determined_and_the_newer_barriers_arrives() {
    use fallwerk_proto::{intake, types};
    let world = World::open().await;
    let office = &world.office;
    let started = office.consultation(&office.desk, &office.advisor).await;
    let mut advisor = office.client(&office.advisor).await;
    let mut outcome = fallwerk_tests::office::complete(&started.id);
    let o = outcome.outcome.as_mut().expect("outcome");
    o.capacity_to_work = types::CapacityToWork::NotYetDetermined.into();
    o.capacity_basis = 0;
    o.barriers = vec![
        types::Barrier::MentalHealth.into(),
        types::Barrier::CaringForRelatives.into(),
    ];
    advisor
        .complete_consultation(outcome)
        .await
        .expect("completed without guessing");
    let opened = advisor
        .open_case(intake::OpenCaseRequest {
            consultation_id: started.id,
            ..Default::default()
        })
        .await
        .expect("opened")
        .into_inner();
    let case = world
        .read_case_at(
            &office.advisor,
            &opened.case_opening.expect("opening").case_id,
            opened.feed_position,
        )
        .await;
    let first = case.first_consultation.expect("first consultation");
    assert_eq!(
        first.capacity_to_work(),
        types::CapacityToWork::NotYetDetermined
    );
    assert_eq!(
        first.barriers,
        [
            i32::from(types::Barrier::MentalHealth),
            i32::from(types::Barrier::CaringForRelatives)
        ]
    );
}

#[tokio::test]
async fn a_birth_date_known_only_to_the_month_arrives_as_intake_recorded_it() {
    let world = World::open().await;
    let office = &world.office;
    let mut person = fallwerk_tests::office::applicant("Teilweise", "Tarek", 1990, 5, 1);
    let partial = fallwerk_proto::google::r#type::Date {
        year: 1990,
        month: 5,
        day: 0,
    };
    person.birth_date = Some(partial);
    let applicant = office
        .client(&office.desk)
        .await
        .create_applicant(fallwerk_proto::intake::CreateApplicantRequest {
            applicant: Some(person),
            ..Default::default()
        })
        .await
        .expect("applicant")
        .into_inner()
        .applicant
        .expect("applicant");
    let case = world.returning_case(&applicant.id).await;
    assert_eq!(case.client.and_then(|c| c.birth_date), Some(partial));
}

#[tokio::test]
async fn a_parked_event_is_replayed_by_the_feed_command_and_stays_parked_while_it_fails() {
    let world = World::open().await;
    // An event case-plan cannot apply: a CaseOpened whose payload does not decode.
    let poison = world.office.app.db.poison_intake_feed().await;
    // The feed goes on past it: a case opened after it arrives.
    let office = &world.office;
    world.case(&office.desk, &office.advisor).await;
    let pool = world.case_plan.db.pool().await;
    let parked = || async {
        sqlx::query_as::<_, (uuid::Uuid, String)>(
            "SELECT event_id::uuid, error FROM caseplan.feed_parked WHERE replayed_at IS NULL",
        )
        .fetch_all(&pool)
        .await
        .expect("parked")
    };
    let before = parked().await;
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].0, poison);

    // `case-plan feed replay-parked`, as the runtime role: tried again, still failing.
    let runtime = world.case_plan.db.runtime_url("caseplan");
    let cli = fallwerk_case_plan::SERVICE
        .parse_cli([
            "case-plan",
            "--database-url",
            &runtime,
            "feed",
            "replay-parked",
        ])
        .expect("cli");
    let outcomes = fallwerk_case_plan::SERVICE
        .replay_parked(&cli.database)
        .await
        .expect("replayed");
    assert!(outcomes.contains(&("intake", 0, 1)), "{outcomes:?}");
    let after = parked().await;
    assert_eq!(after.len(), 1, "still parked");
    assert!(after[0].1.contains("does not decode"), "{}", after[0].1);
}

#[tokio::test]
async fn a_subscription_to_rare_types_moves_its_cursor_to_the_head_while_nothing_it_takes_happens()
{
    let world = World::open().await;
    let office = &world.office;
    world.case(&office.desk, &office.advisor).await;
    // Arrivals: events case-plan does not take (it follows cases, roster and applicants).
    for _ in 0..3 {
        office.visit(&office.desk).await;
    }
    let intake = world.office.app.db.pool().await;
    let head: i64 = sqlx::query_scalar("SELECT max(position) FROM intake.outbox")
        .fetch_one(&intake)
        .await
        .expect("head");
    let plans = world.case_plan.db.pool().await;
    // The idle feed's heartbeat (after 5 s) says it delivered everything up to its head.
    let mut cursor = 0;
    for _ in 0..150 {
        cursor = sqlx::query_scalar(
            "SELECT position FROM caseplan.feed_cursors WHERE subscription = 'intake'",
        )
        .fetch_one(&plans)
        .await
        .expect("cursor");
        if cursor >= head {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(cursor, head, "case-plan's cursor is at intake's head");
}
