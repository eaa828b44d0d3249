//! The roster: advisors are staff identity, so writing and reading them is audited.

use fallwerk_proto::intake as pb;
use prost_types::FieldMask;

use crate::{Office, date};

#[tokio::test]
async fn writing_and_reading_advisors_is_in_the_audit_log_with_each_advisor() {
    let office = Office::open().await;
    let advisor = office
        .advisors()
        .await
        .into_iter()
        .find(|a| a.subject == "advisor-1")
        .expect("advisor-1 in the roster");
    let mut lead = office.client(&office.lead).await;
    lead.update_advisor(pb::UpdateAdvisorRequest {
        advisor: Some(pb::Advisor {
            capacity: 25,
            ..advisor.clone()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["capacity".into()],
        }),
    })
    .await
    .expect("updated");
    lead.get_team_figures(pb::GetTeamFiguresRequest {
        team_id: office.team.to_string(),
        start_date: date(2026, 1, 1),
        end_date: date(2026, 1, 31),
    })
    .await
    .expect("figures");

    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT subject, action, resource_id FROM intake.audit_log
         WHERE resource_type = 'advisor' ORDER BY id",
    )
    .fetch_all(&office.app.db.pool().await)
    .await
    .expect("audit log");
    let has = |subject: &str, action: &str| {
        audited
            .iter()
            .any(|(s, a, id)| s == subject && a == action && *id == advisor.id)
    };
    assert!(has("admin-1", "CreateAdvisor"), "{audited:?}");
    assert!(has("lead-1", "ListAdvisors"), "{audited:?}");
    assert!(has("lead-1", "UpdateAdvisor"), "{audited:?}");
    assert!(has("lead-1", "GetTeamFigures"), "{audited:?}");
}
