//! Backup and restore, rehearsed: a dump of the running system's databases (`pg_dump`, as the
//! runbook's backup), restored into a fresh cluster whose roles were set up first; the
//! services start on it and the feeds go on from their cursors, nothing applied twice.

use std::process::Command;

use fallwerk_tests::{TestDatabase, cluster::PrivateCluster, world::World};

/// `pg_dump` of `db` (custom format) restored into a new, empty database on `cluster`.
async fn dump_and_restore(db: &TestDatabase, cluster: &PrivateCluster) -> TestDatabase {
    let file = std::env::temp_dir().join(format!("fallwerk-{}.dump", db.name()));
    let dumped = Command::new("pg_dump")
        .args(["--format=custom", "--file"])
        .arg(&file)
        .arg(&db.url)
        .status()
        .expect("pg_dump runs");
    assert!(dumped.success(), "pg_dump {}", db.name());
    let restored = TestDatabase::create_on(&cluster.admin_url()).await;
    let loaded = Command::new("pg_restore")
        .args(["--exit-on-error", "--dbname", &restored.url])
        .arg(&file)
        .status()
        .expect("pg_restore runs");
    assert!(loaded.success(), "pg_restore {}", db.name());
    let _ = std::fs::remove_file(&file);
    restored
}

async fn cursor(db: &TestDatabase, subscription: &str) -> i64 {
    sqlx::query_scalar("SELECT position FROM caseplan.feed_cursors WHERE subscription = $1")
        .bind(subscription)
        .fetch_one(&db.pool().await)
        .await
        .expect("case-plan's cursor")
}

#[tokio::test]
async fn a_dump_restored_into_a_fresh_cluster_serves_and_the_feeds_go_on_from_their_cursors() {
    let old = PrivateCluster::start().await;
    let mut world = World::open_with_partner_on(Some(&old.admin_url()), false).await;
    let (desk, advisor) = (world.office.desk.clone(), world.office.advisor.clone());
    let before = world.case(&desk, &advisor).await;
    let subscription = "intake";
    let cursor_at_dump = cursor(&world.case_plan.db, subscription).await;
    assert!(cursor_at_dump > 0, "case-plan has applied intake's feed");

    // The new cluster gets its roles first (the set-up Job), then each database's dump.
    let new = PrivateCluster::start().await;
    TestDatabase::create_on(&new.admin_url())
        .await
        .set_up_roles()
        .await;
    let intake_copy = dump_and_restore(&world.office.app.db, &new).await;
    let case_plan_copy = dump_and_restore(&world.case_plan.db, &new).await;
    let partner = world.partner.as_mut().expect("partner");
    let partner_copy = dump_and_restore(&partner.db, &new).await;

    // Every service moves to the restored cluster; the old one goes away.
    world.office.app.move_to(intake_copy).await;
    world.case_plan.move_to(case_plan_copy).await;
    partner.move_to(partner_copy).await;
    old.stop().await;

    // What was acknowledged before the dump is there, once.
    let again = world.read_case(&advisor, &before.id).await;
    assert_eq!(again.id, before.id);
    assert_eq!(
        cursor(&world.case_plan.db, subscription).await,
        cursor_at_dump
    );
    // New work flows through the feeds from where they stood.
    let after = world.case(&desk, &advisor).await;
    assert_ne!(after.id, before.id);
    assert!(cursor(&world.case_plan.db, subscription).await > cursor_at_dump);
    let pool = world.case_plan.db.pool().await;
    for case in [&before.id, &after.id] {
        let opened: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM caseplan.timeline WHERE case_id = $1::uuid AND kind = 'opened'",
        )
        .bind(case)
        .fetch_one(&pool)
        .await
        .expect("timeline");
        assert_eq!(opened, 1, "case {case}: one 'opened' entry");
    }
}
