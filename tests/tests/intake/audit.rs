//! The audit trail proves itself: append-only in the database, hash-chained so a removed,
//! altered or moved record is found, and queried by auditors only.

use fallwerk_platform::auth::Role;
use fallwerk_proto::{audit as pb, intake};
use fallwerk_tests::{AuditClient, linked_audit_trail, token};
use tonic::Code;

use crate::Office;

/// An office where a few people were registered and read: records to chain.
async fn office_with_trail() -> Office {
    let office = Office::open().await;
    for family in ["Eins", "Zwei", "Drei"] {
        let id = office.applicant(&office.desk, family).await;
        office
            .client(&office.advisor)
            .await
            .get_applicant(intake::GetApplicantRequest { id })
            .await
            .expect("read");
    }
    office
}

/// Runs `sql` as the schema's owner with the append-only triggers off: what an attacker with
/// the owner's rights could do, and the application's role never can.
async fn tamper(office: &Office, sql: &str) {
    let pool = office.app.db.pool().await;
    let mut tx = pool.begin().await.expect("begin");
    for statement in [
        "ALTER TABLE intake.audit_log DISABLE TRIGGER USER",
        sql,
        "ALTER TABLE intake.audit_log ENABLE TRIGGER USER",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await
            .expect(statement);
    }
    tx.commit().await.expect("commit");
}

async fn verify(office: &Office) -> pb::VerifyAuditTrailResponse {
    let auditor = token("auditor-1", &[Role::Auditor], None);
    let mut client: AuditClient = office.app.client(&auditor).await;
    client
        .verify_audit_trail(pb::VerifyAuditTrailRequest {})
        .await
        .expect("verify")
        .into_inner()
}

#[tokio::test]
async fn every_record_is_linked_and_the_untouched_chain_verifies() {
    let office = office_with_trail().await;
    let trail = linked_audit_trail(&office.app).await;
    assert!(trail.intact, "{trail:?}");
    assert_eq!(trail.unchained_records, 0);
    assert!(
        trail.chained_records >= 6,
        "three creates and three reads: {trail:?}"
    );
    assert_eq!(trail.head_hash.len(), 64);
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_a_record() {
    let office = office_with_trail().await;
    linked_audit_trail(&office.app).await;
    let pool = office.app.db.pool().await;
    for statement in [
        "UPDATE intake.audit_log SET subject = 'someone-else' WHERE chain_position = 1",
        "UPDATE intake.audit_log SET chain_position = 99, chain_hash = '\\x00' WHERE chain_position = 1",
        "DELETE FROM intake.audit_log WHERE chain_position = 1",
        "TRUNCATE intake.audit_log",
    ] {
        let refused = sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect_err(statement);
        assert!(
            refused.to_string().contains("append-only"),
            "{statement}: {refused}"
        );
    }
    assert!(verify(&office).await.intact);
}

#[tokio::test]
async fn an_altered_record_is_named_as_the_first_broken_link() {
    let office = office_with_trail().await;
    linked_audit_trail(&office.app).await;
    tamper(
        &office,
        "UPDATE intake.audit_log SET subject = 'someone-else' WHERE chain_position = 3",
    )
    .await;
    let found = verify(&office).await;
    assert!(!found.intact);
    assert_eq!(found.broken_position, 3);
    assert!(found.problem.contains("altered"), "{}", found.problem);
}

#[tokio::test]
async fn a_removed_record_is_named_as_the_first_broken_link() {
    let office = office_with_trail().await;
    linked_audit_trail(&office.app).await;
    tamper(
        &office,
        "DELETE FROM intake.audit_log WHERE chain_position = 2",
    )
    .await;
    let found = verify(&office).await;
    assert!(!found.intact);
    assert_eq!(found.broken_position, 2);
    assert!(found.problem.contains("removed"), "{}", found.problem);
}

#[tokio::test]
async fn records_moved_in_the_chain_are_found() {
    let office = office_with_trail().await;
    linked_audit_trail(&office.app).await;
    // Swap the contents of links 4 and 5, keeping each position's hash.
    tamper(
        &office,
        "UPDATE intake.audit_log a SET subject = b.subject, action = b.action,
             resource_id = b.resource_id, roles = b.roles
         FROM intake.audit_log b
         WHERE (a.chain_position, b.chain_position) IN ((4, 5), (5, 4))",
    )
    .await;
    let found = verify(&office).await;
    assert!(!found.intact);
    assert_eq!(found.broken_position, 4);
}

#[tokio::test]
async fn an_auditor_lists_the_trail_by_staff_member_record_and_time_page_by_page() {
    let office = office_with_trail().await;
    let auditor = token("auditor-1", &[Role::Auditor], None);
    let mut client: AuditClient = office.app.client(&auditor).await;
    let list =
        |subject: &str, kind: &str, id: &str, page_token: String| pb::ListAuditRecordsRequest {
            subject: subject.into(),
            resource_type: kind.into(),
            resource_id: id.into(),
            page_size: 2,
            page_token,
            ..Default::default()
        };

    // By staff member, page by page.
    let mut desk_records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_records(list("desk-1", "", "", page_token))
            .await
            .expect("page")
            .into_inner();
        assert!(page.records.len() <= 2);
        desk_records.extend(page.records);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(desk_records.len(), 3, "the desk registered three people");
    assert!(
        desk_records
            .iter()
            .all(|r| r.subject == "desk-1" && r.action == "CreateApplicant")
    );
    assert!(
        desk_records.windows(2).all(|w| w[0].id < w[1].id),
        "oldest first"
    );

    // By record: who touched this person's data.
    let person = &desk_records[0].resource_id;
    let about = client
        .list_audit_records(pb::ListAuditRecordsRequest {
            resource_type: "applicant".into(),
            resource_id: person.clone(),
            ..Default::default()
        })
        .await
        .expect("by record")
        .into_inner()
        .records;
    let who: Vec<(&str, &str)> = about
        .iter()
        .map(|r| (r.subject.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(
        who,
        [("desk-1", "CreateApplicant"), ("advisor-1", "GetApplicant")]
    );

    // By time: nothing after the last record.
    let later = fallwerk_platform::wire::timestamp(chrono::Utc::now() + chrono::Duration::hours(1));
    let none = client
        .list_audit_records(pb::ListAuditRecordsRequest {
            start_time: Some(later),
            ..Default::default()
        })
        .await
        .expect("by time")
        .into_inner()
        .records;
    assert!(none.is_empty());

    // The auditor's own queries are in the trail too.
    let own = client
        .list_audit_records(list("auditor-1", "", "", String::new()))
        .await
        .expect("own")
        .into_inner()
        .records;
    assert!(own.iter().any(|r| r.action == "ListAuditRecords"));

    // A token sent with other filters is refused, not misread.
    let first = client
        .list_audit_records(list("desk-1", "", "", String::new()))
        .await
        .expect("page")
        .into_inner();
    let status = client
        .list_audit_records(list("advisor-1", "", "", first.next_page_token))
        .await
        .expect_err("other filters");
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn only_an_auditor_reads_the_trail() {
    let office = Office::open().await;
    for (subject, roles) in [
        ("lead-1", vec![Role::TeamLead]),
        ("admin-1", vec![Role::Admin]),
        ("svc", vec![Role::Service]),
        ("desk-1", vec![Role::FrontDesk]),
    ] {
        let mut client: AuditClient = office
            .app
            .client(&token(subject, &roles, Some(office.team)))
            .await;
        let status = client
            .verify_audit_trail(pb::VerifyAuditTrailRequest {})
            .await
            .expect_err("not an auditor");
        assert_eq!(status.code(), Code::PermissionDenied, "{subject}");
        let status = client
            .list_audit_records(pb::ListAuditRecordsRequest::default())
            .await
            .expect_err("not an auditor");
        assert_eq!(status.code(), Code::PermissionDenied, "{subject}");
    }
}

#[tokio::test]
async fn every_read_of_many_at_once_is_in_the_audit_log_when_it_is_answered() {
    // Reads share the commits of their audit records (audit::writer); none may be answered
    // before its own record is committed, and none may be lost in a shared batch.
    let office = Office::open().await;
    let mut people = Vec::new();
    for n in 0..24 {
        people.push(
            office
                .applicant(&office.desk, &format!("Gleichzeitig{n}"))
                .await,
        );
    }
    let pool = office.app.db.pool().await;
    let mut reads = Vec::new();
    for id in people {
        let mut advisor = office.client(&office.advisor).await;
        let pool = pool.clone();
        reads.push(tokio::spawn(async move {
            advisor
                .get_applicant(intake::GetApplicantRequest { id: id.clone() })
                .await
                .expect("read");
            // Asked on another connection right after the answer: committed already.
            let recorded: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM intake.audit_log \
                 WHERE action = 'GetApplicant' AND resource_id = $1",
            )
            .bind(&id)
            .fetch_one(&pool)
            .await
            .expect("count");
            assert_eq!(
                recorded, 1,
                "the read of {id} was answered before its record"
            );
        }));
    }
    for read in reads {
        read.await.expect("a read and its record");
    }
}
