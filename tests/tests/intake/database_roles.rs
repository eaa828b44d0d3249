//! Least privilege in the database: each service serves as a runtime role that can change its
//! own schema's data and nothing else, as the set-up Job's `roles.sql`
//! (deploy/k8s/components/database-setup) and the migrations' grants set it up.

use fallwerk_intake::SERVICE;
use fallwerk_platform::migrate::Migrator;
use fallwerk_tests::{ServiceApp, TestDatabase, owner_role, runtime_role};
use sqlx::{Connection, PgConnection};

/// Every service's schema, migrated by its owner into one database, as in a cluster that
/// shares one database between the services.
async fn all_three_schemas() -> (TestDatabase, [Migrator; 3]) {
    let db = TestDatabase::create().await;
    let migrators = [
        SERVICE.migrator,
        fallwerk_case_plan::SERVICE.migrator,
        fallwerk_partner::SERVICE.migrator,
    ];
    for migrator in &migrators {
        db.migrate_as_owner(migrator).await;
    }
    (db, migrators)
}

/// The SQLSTATE `statement` fails with as `role`, or `None` when it succeeds.
async fn refusal(db: &TestDatabase, role: &str, statement: &str) -> Option<String> {
    let mut conn = PgConnection::connect(&db.url_as(role))
        .await
        .expect("the role logs in");
    match sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut conn)
        .await
    {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => Some(e.code().unwrap_or_default().into_owned()),
        Err(other) => panic!("{statement}: {other}"),
    }
}

const DENIED: Option<&str> = Some("42501");

#[tokio::test]
async fn no_role_of_one_service_can_read_another_services_schema() {
    let (db, migrators) = all_three_schemas().await;
    for own in &migrators {
        for other in migrators.iter().filter(|m| m.schema() != own.schema()) {
            for role in [runtime_role(own.schema()), owner_role(own.schema())] {
                let read = format!("SELECT * FROM {}.outbox LIMIT 1", other.schema());
                assert_eq!(
                    refusal(&db, &role, &read).await.as_deref(),
                    DENIED,
                    "{role} reads {}",
                    other.schema()
                );
            }
        }
        // Its own schema, it reads.
        let own_read = format!("SELECT * FROM {}.outbox LIMIT 1", own.schema());
        assert_eq!(
            refusal(&db, &runtime_role(own.schema()), &own_read).await,
            None
        );
    }
}

#[tokio::test]
async fn a_runtime_role_appends_to_its_audit_log_and_cannot_alter_it() {
    let (db, migrators) = all_three_schemas().await;
    for migrator in &migrators {
        let schema = migrator.schema();
        let role = runtime_role(schema);
        let insert = format!(
            "INSERT INTO {schema}.audit_log (subject, roles, action, resource_type, resource_id)
             VALUES ('advisor-1', '{{advisor}}', 'read', 'applicant', 'x')"
        );
        assert_eq!(refusal(&db, &role, &insert).await, None, "{role} appends");
        // The chainer's one write: the two link columns (the trigger guards the rest).
        let link = format!(
            "UPDATE {schema}.audit_log SET chain_position = chain_position, chain_hash = chain_hash WHERE false"
        );
        assert_eq!(refusal(&db, &role, &link).await, None, "{role} links");
        for statement in [
            format!("UPDATE {schema}.audit_log SET subject = 'someone else' WHERE false"),
            format!("DELETE FROM {schema}.audit_log WHERE false"),
            format!("TRUNCATE {schema}.audit_log"),
            format!("ALTER TABLE {schema}.audit_log DISABLE TRIGGER audit_log_append_only"),
            format!("DROP TABLE {schema}.audit_log"),
            format!("DELETE FROM {schema}.erasure_proof WHERE false"),
            format!("UPDATE {schema}.erasure_proof SET rule = '' WHERE false"),
            format!("INSERT INTO {schema}._migrations (id, checksum) VALUES ('x', '')"),
            format!("CREATE TABLE {schema}.smuggled (id int)"),
            "CREATE TABLE public.smuggled (id int)".to_owned(),
        ] {
            assert_eq!(
                refusal(&db, &role, &statement).await.as_deref(),
                DENIED,
                "{role}: {statement}"
            );
        }
    }
}

#[tokio::test]
async fn the_service_serves_as_its_runtime_role() {
    let app = ServiceApp::spawn(&SERVICE).await;
    let users: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT usename::text FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'intake'",
    )
    .fetch_all(&app.db.pool().await)
    .await
    .expect("pg_stat_activity");
    assert_eq!(users, vec![runtime_role(SERVICE.migrator.schema())]);
}
