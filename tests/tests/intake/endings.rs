//! Visits that end without a consultation: ended by staff with a reason, or by the system at
//! the end of the office day; and the same-day rate counted honestly over them.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use fallwerk_proto::intake as pb;
use fallwerk_tests::{bad_fields, error_reason};
use tonic::Code;

use crate::{Office, continue_check, date};

fn end(visit_id: &str, reason: pb::VisitEndReason, note: &str) -> pb::EndVisitRequest {
    pb::EndVisitRequest {
        visit_id: visit_id.into(),
        reason: reason.into(),
        note: note.into(),
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_visit_ends_with_its_reason_and_only_while_it_waits() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let visit = office.visit(&office.desk).await;
    let ended = desk
        .end_visit(end(
            &visit.id,
            pb::VisitEndReason::NotLocallyResponsible,
            "Sozialamt Süd",
        ))
        .await
        .expect("ended")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(ended.state(), pb::VisitState::Closed);
    assert_eq!(
        ended.end_reason(),
        pb::VisitEndReason::NotLocallyResponsible
    );
    assert_eq!(ended.end_note, "Sozialamt Süd");
    assert!(ended.end_time.is_some());
    assert!(
        office.queue(&office.desk).await.is_empty(),
        "no longer waiting"
    );

    let again = desk
        .end_visit(end(&visit.id, pb::VisitEndReason::Left, ""))
        .await
        .expect_err("ended already");
    assert_eq!(error_reason(&again).as_deref(), Some("VISIT_NOT_WAITING"));
    let consulted = office.consultation(&office.desk, &office.advisor).await;
    let started = desk
        .end_visit(end(&consulted.visit_id, pb::VisitEndReason::Left, ""))
        .await
        .expect_err("consultation started");
    assert_eq!(error_reason(&started).as_deref(), Some("VISIT_NOT_WAITING"));

    // Forwarding needs the place; the system's own reason cannot be given; bad ids named.
    let other = office.visit(&office.desk).await;
    let status = desk
        .end_visit(end(
            &other.id,
            pb::VisitEndReason::NotLocallyResponsible,
            "",
        ))
        .await
        .expect_err("where to?");
    assert_eq!(bad_fields(&status), ["note"]);
    let status = desk
        .end_visit(end("x", pb::VisitEndReason::LeftUnseen, ""))
        .await
        .expect_err("system's reason");
    assert_eq!(bad_fields(&status), ["reason", "visit_id"]);
    let status = office
        .client(&office.lead)
        .await
        .end_visit(end(&other.id, pb::VisitEndReason::Left, ""))
        .await
        .expect_err("team leads do not run the desk");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = office
        .client(&office.other_desk)
        .await
        .end_visit(end(&other.id, pb::VisitEndReason::Left, ""))
        .await
        .expect_err("another team's visit");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn a_visit_from_yesterday_is_ended_as_left_unseen_and_counts_against_the_same_day_rate() {
    let office = Office::open().await;
    // Monday 12 January 2026, 09:00 in Berlin: two people come.
    let monday = Utc
        .with_ymd_and_hms(2026, 1, 12, 8, 0, 0)
        .single()
        .expect("instant");
    office.app.clock.set(monday);
    let consulted = office.consultation(&office.desk, &office.advisor).await;
    let waiting = office.visit(&office.desk).await;
    let mut desk = office.client(&office.desk).await;
    let checked = office.visit(&office.desk).await;
    let mut no_need = continue_check(&checked.id);
    no_need.access_check.as_mut().expect("check").decision = pb::AccessDecision::NoNeed.into();
    let sent = desk
        .record_access_check(no_need)
        .await
        .expect("no need")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(sent.end_reason(), pb::VisitEndReason::NoNeed);

    // Tuesday: the one still waiting on Monday is ended by the system.
    office.app.clock.set(monday + chrono::Duration::days(1));
    let mut visit = None;
    for _ in 0..100 {
        let read = desk
            .get_visit(pb::GetVisitRequest {
                id: waiting.id.clone(),
            })
            .await
            .expect("visit")
            .into_inner()
            .visit
            .expect("visit");
        if read.state() == pb::VisitState::Closed {
            visit = Some(read);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let visit = visit.expect("ended within 10 s");
    assert_eq!(visit.end_reason(), pb::VisitEndReason::LeftUnseen);
    assert_ne!(consulted.visit_id, waiting.id);

    let figures = office
        .client(&office.lead)
        .await
        .get_team_figures(pb::GetTeamFiguresRequest {
            team_id: office.team.to_string(),
            start_date: date(2026, 1, 12),
            end_date: date(2026, 1, 12),
        })
        .await
        .expect("figures")
        .into_inner();
    assert_eq!(figures.visits, 3);
    assert_eq!(
        figures.arrivals_needing_consultation, 2,
        "no need is not counted"
    );
    assert_eq!(figures.consulted_same_day, 1);
    assert_eq!(figures.left_unseen, 1);
    assert_eq!(figures.sent_elsewhere, 1);
    assert_eq!(
        figures.same_day_rate, 0.5,
        "who left unseen counts against the promise"
    );
}

#[tokio::test]
async fn the_queue_calls_emergencies_first_then_those_needing_an_interpreter() {
    let office = Office::open().await;
    let mut desk = office.client(&office.desk).await;
    let first = office.visit(&office.desk).await;
    let mut with_interpreter = crate::applicant("Haddad", "Amal", 1984, 4, 2);
    with_interpreter.interpreter_language = "ar".into();
    let person = desk
        .create_applicant(pb::CreateApplicantRequest {
            applicant: Some(with_interpreter),
            allow_duplicate: true,
            request_id: String::new(),
        })
        .await
        .expect("applicant")
        .into_inner()
        .applicant
        .expect("applicant");
    let interpreter = desk
        .register_visit(pb::RegisterVisitRequest {
            applicant_id: person.id,
            concern: "Strom abgestellt".into(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("visit")
        .into_inner()
        .visit
        .expect("visit");
    let emergency = office.visit(&office.desk).await;
    let mut check = continue_check(&emergency.id);
    let access = check.access_check.as_mut().expect("check");
    access.emergency_need = true;
    access.emergency_note = "Kein Geld für Essen heute".into();
    desk.record_access_check(check).await.expect("emergency");

    let queue = office.queue(&office.desk).await;
    let order: Vec<(String, bool, String)> = queue
        .into_iter()
        .map(|e| {
            (
                e.visit.map(|v| v.id).unwrap_or_default(),
                e.emergency_need,
                e.interpreter_language,
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (emergency.id, true, String::new()),
            (interpreter.id, false, "ar".to_owned()),
            (first.id, false, String::new()),
        ]
    );
}

#[tokio::test]
async fn a_central_front_desk_registers_a_visit_into_the_named_teams_queue() {
    let office = Office::open().await;
    let person = office.applicant(&office.desk, "Novak").await;
    let central = fallwerk_tests::token(
        "desk-central",
        &[fallwerk_platform::auth::Role::FrontDesk],
        None,
    );
    let register = |team: Option<String>, kind: pb::VisitKind| pb::RegisterVisitRequest {
        applicant_id: person.clone(),
        concern: "Termin zur Antragstellung".into(),
        request_id: String::new(),
        kind: kind.into(),
        team_id: team.unwrap_or_default(),
    };
    let visit = office
        .client(&central)
        .await
        .register_visit(register(
            Some(office.team.to_string()),
            pb::VisitKind::Appointment,
        ))
        .await
        .expect("registered for the team")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(visit.team_id, office.team.to_string());
    assert_eq!(visit.kind(), pb::VisitKind::Appointment);
    let queue = office.queue(&office.desk).await;
    assert_eq!(
        queue
            .iter()
            .filter_map(|e| e.visit.as_ref())
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>(),
        [visit.id.as_str()],
        "it waits in that team's queue"
    );

    // Without naming the team it cannot know where; another team's desk cannot name ours.
    let status = office
        .client(&central)
        .await
        .register_visit(register(None, pb::VisitKind::WalkIn))
        .await
        .expect_err("no team");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = office
        .client(&office.other_desk)
        .await
        .register_visit(register(
            Some(office.team.to_string()),
            pb::VisitKind::WalkIn,
        ))
        .await
        .expect_err("another team's queue");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn a_central_front_desk_serves_every_teams_queue_and_visits() {
    let office = Office::open().await;
    let central = fallwerk_tests::token(
        "desk-central",
        &[fallwerk_platform::auth::Role::FrontDesk],
        None,
    );
    let visit = office.visit(&office.desk).await;
    let mut desk = office.client(&central).await;
    let queue = |team: &str| pb::ListWaitingQueueRequest {
        team_id: team.into(),
        ..Default::default()
    };

    let listed = desk
        .list_waiting_queue(queue(&office.team.to_string()))
        .await
        .expect("the named team's queue")
        .into_inner()
        .entries;
    assert_eq!(
        listed
            .iter()
            .filter_map(|e| e.visit.as_ref())
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>(),
        [visit.id.as_str()]
    );
    let checked = desk
        .record_access_check(continue_check(&visit.id))
        .await
        .expect("a central desk checks any team's visit")
        .into_inner()
        .visit
        .expect("visit");
    assert_eq!(checked.state(), pb::VisitState::ReadyForConsultation);
    desk.get_visit(pb::GetVisitRequest {
        id: visit.id.clone(),
    })
    .await
    .expect("reads it");
    let history = desk
        .list_visits(pb::ListVisitsRequest {
            applicant_id: visit.applicant_id.clone(),
            ..Default::default()
        })
        .await
        .expect("the person's visits at every team")
        .into_inner()
        .visits;
    assert_eq!(history.len(), 1);
    desk.end_visit(end(&visit.id, pb::VisitEndReason::Left, ""))
        .await
        .expect("ends it");

    // A central desk names the team; a team's desk sees only its own.
    let status = desk
        .list_waiting_queue(queue(""))
        .await
        .expect_err("which team");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = office
        .client(&office.other_desk)
        .await
        .list_waiting_queue(queue(&office.team.to_string()))
        .await
        .expect_err("another team's queue");
    assert_eq!(status.code(), Code::NotFound);
    let status = office
        .client(&office.other_desk)
        .await
        .get_visit(pb::GetVisitRequest { id: visit.id })
        .await
        .expect_err("another team's visit");
    assert_eq!(status.code(), Code::NotFound);
}
