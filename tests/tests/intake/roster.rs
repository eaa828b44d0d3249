//! The roster: advisors are staff identity, so writing and reading them is audited. Teams,
//! advisors and the waiting queue are read one at a time or a page at a time.

use fallwerk_proto::intake as pb;
use fallwerk_tests::{bad_fields, error_domain, error_metadata, error_reason};
use prost_types::FieldMask;
use tonic::Code;

use crate::{Office, continue_check, date};
use fallwerk_tests::office::create_team;

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
    lead.get_advisor(pb::GetAdvisorRequest {
        id: advisor.id.clone(),
    })
    .await
    .expect("read");
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
    assert!(has("lead-1", "GetAdvisor"), "{audited:?}");
    assert!(has("lead-1", "UpdateAdvisor"), "{audited:?}");
    assert!(has("lead-1", "GetTeamFigures"), "{audited:?}");
}

#[tokio::test]
async fn teams_and_advisors_come_a_page_at_a_time_in_name_order_and_one_at_a_time() {
    let office = Office::open().await;
    let mut admin = office.client(&office.admin).await;
    for name in ["Aktivierung Ost", "Aktivierung West", "Aktivierung Mitte"] {
        create_team(&mut admin, name).await;
    }
    let mut desk = office.client(&office.desk).await;
    let mut names = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = desk
            .list_teams(pb::ListTeamsRequest {
                page_size: 2,
                page_token,
            })
            .await
            .expect("teams")
            .into_inner();
        assert!(page.teams.len() <= 2);
        names.extend(page.teams.iter().map(|t| t.display_name.clone()));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(pages, 3, "five teams in pages of two");
    assert_eq!(
        names,
        [
            "Aktivierung Mitte",
            "Aktivierung Nord",
            "Aktivierung Ost",
            "Aktivierung Süd",
            "Aktivierung West",
        ],
        "every team once, by name"
    );

    // One team by id, as the list shows it; an unknown one is NOT_FOUND in the shared domain.
    let team = desk
        .get_team(pb::GetTeamRequest {
            id: office.team.to_string(),
        })
        .await
        .expect("team")
        .into_inner()
        .team
        .expect("team");
    assert_eq!(team.display_name, "Aktivierung Nord");
    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = desk
        .get_team(pb::GetTeamRequest {
            id: unknown.clone(),
        })
        .await
        .expect_err("no such team");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(error_domain(&missing).as_deref(), Some("fallwerk.type.v1"));
    assert_eq!(error_reason(&missing).as_deref(), Some("NOT_FOUND"));
    assert_eq!(
        error_metadata(&missing, "resource").as_deref(),
        Some("team")
    );
    assert_eq!(error_metadata(&missing, "id"), Some(unknown));
    // Bad input names its field.
    let bad = desk
        .get_team(pb::GetTeamRequest { id: "nope".into() })
        .await
        .expect_err("not an id");
    assert_eq!(bad_fields(&bad), ["id"]);
    let bad = desk
        .list_teams(pb::ListTeamsRequest {
            page_size: -1,
            page_token: "made-up".into(),
        })
        .await
        .expect_err("bad page");
    assert_eq!(bad_fields(&bad), ["page_size", "page_token"]);

    // The home team's two advisors, one per page; the token belongs to this team's listing.
    let mut lead = office.client(&office.lead).await;
    let first = lead
        .list_advisors(pb::ListAdvisorsRequest {
            team_id: office.team.to_string(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.advisors.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = lead
        .list_advisors(pb::ListAdvisorsRequest {
            team_id: office.team.to_string(),
            page_size: 1,
            page_token: first.next_page_token.clone(),
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second.advisors.len(), 1);
    assert!(second.next_page_token.is_empty(), "two advisors, two pages");
    assert_eq!(
        [&first.advisors[0].subject, &second.advisors[0].subject],
        ["advisor-1", "advisor-2"]
    );
    let harbour = create_team(&mut admin, "Aktivierung Hafen").await;
    let misused = admin
        .list_advisors(pb::ListAdvisorsRequest {
            team_id: harbour.to_string(),
            page_size: 1,
            page_token: first.next_page_token,
        })
        .await
        .expect_err("another team's token");
    assert_eq!(bad_fields(&misused), ["page_token"]);

    let advisor = lead
        .get_advisor(pb::GetAdvisorRequest {
            id: second.advisors[0].id.clone(),
        })
        .await
        .expect("advisor")
        .into_inner()
        .advisor
        .expect("advisor");
    assert_eq!(advisor, second.advisors[0]);
    let bad = lead
        .get_advisor(pb::GetAdvisorRequest { id: String::new() })
        .await
        .expect_err("no id");
    assert_eq!(bad_fields(&bad), ["id"]);
}

#[tokio::test]
async fn the_waiting_queue_pages_in_calling_order() {
    let office = Office::open().await;
    let arrived: Vec<pb::Visit> = [
        office.visit(&office.desk).await,
        office.visit(&office.desk).await,
        office.visit(&office.desk).await,
    ]
    .into();
    // The last to arrive has an emergency need: called up first.
    let mut emergency = continue_check(&arrived[2].id);
    let check = emergency.access_check.as_mut().expect("check");
    check.emergency_need = true;
    check.emergency_note = "Keine Lebensmittel im Haus".into();
    let mut desk = office.client(&office.desk).await;
    desk.record_access_check(emergency)
        .await
        .expect("access check");

    let page = |page_token: String| pb::ListWaitingQueueRequest {
        page_size: 2,
        page_token,
        ..Default::default()
    };
    let first = desk
        .list_waiting_queue(page(String::new()))
        .await
        .expect("first page")
        .into_inner();
    let second = desk
        .list_waiting_queue(page(first.next_page_token.clone()))
        .await
        .expect("second page")
        .into_inner();
    assert!(second.next_page_token.is_empty(), "three visits, two pages");
    let order: Vec<&str> = first
        .entries
        .iter()
        .chain(&second.entries)
        .map(|e| e.visit.as_ref().expect("visit").id.as_str())
        .collect();
    assert_eq!(
        order,
        [
            arrived[2].id.as_str(),
            arrived[0].id.as_str(),
            arrived[1].id.as_str()
        ],
        "the emergency first, then by arrival"
    );
    assert!(first.entries[0].emergency_need);
}
