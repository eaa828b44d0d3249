//! The same-day promise is kept on the Europe/Berlin calendar, not on UTC's.

use chrono::{DateTime, TimeZone, Utc};
use fallwerk_proto::intake as pb;

use crate::{Office, complete, continue_check};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Registers a visit at `arrival`, consults at `consultation` and opens the case; returns the
/// opening's same-day flag.
async fn same_day(arrival: DateTime<Utc>, consultation: DateTime<Utc>) -> bool {
    let office = Office::open().await;
    office.app.clock.set(arrival);
    let visit = office.ready_visit(&office.desk).await;
    office.app.clock.set(consultation);
    let mut advisor = office.client(&office.advisor).await;
    let started = advisor
        .start_consultation(pb::StartConsultationRequest {
            visit_id: visit.id,
            request_id: String::new(),
        })
        .await
        .expect("started")
        .into_inner()
        .consultation
        .expect("consultation");
    advisor
        .complete_consultation(complete(&started.id))
        .await
        .expect("completed");
    advisor
        .open_case(pb::OpenCaseRequest {
            consultation_id: started.id,
            ..Default::default()
        })
        .await
        .expect("opened")
        .into_inner()
        .case_opening
        .expect("opening")
        .same_day
}

#[tokio::test]
async fn a_visit_at_23_30_consulted_at_00_10_is_not_same_day() {
    // Winter: Berlin is UTC+1, so both instants fall on one UTC day (14 January).
    assert!(!same_day(utc(2026, 1, 14, 22, 30), utc(2026, 1, 14, 23, 10)).await);
}

#[tokio::test]
async fn a_visit_after_midnight_berlin_summer_time_is_same_day_though_utc_dates_differ() {
    // 00:30 Berlin summer time on 2 July is 22:30 UTC on 1 July; consulted 10:00 on 2 July.
    assert!(same_day(utc(2026, 7, 1, 22, 30), utc(2026, 7, 2, 8, 0)).await);
}

#[tokio::test]
async fn the_night_the_clocks_go_forward_stays_one_office_day() {
    // 29 March 2026: arrival 01:50 CET (00:50 UTC), consultation 03:10 CEST (01:10 UTC).
    assert!(same_day(utc(2026, 3, 29, 0, 50), utc(2026, 3, 29, 1, 10)).await);
}

#[tokio::test]
async fn the_night_the_clocks_go_back_ends_at_berlin_midnight() {
    // 25 October 2026: arrival 23:30 CET on the 25th (22:30 UTC), consultation 00:05 CET on the 26th.
    assert!(!same_day(utc(2026, 10, 25, 22, 30), utc(2026, 10, 25, 23, 5)).await);
}

#[tokio::test]
async fn the_queue_shows_only_todays_berlin_visits() {
    let office = Office::open().await;
    // Arrived 23:40 Berlin on 14 January and still waiting after midnight.
    office.app.clock.set(utc(2026, 1, 14, 22, 40));
    office.visit(&office.desk).await;
    let queue = office.queue(&office.desk).await;
    assert_eq!(queue.len(), 1);
    office.app.clock.set(utc(2026, 1, 14, 23, 10));
    let queue = office.queue(&office.desk).await;
    assert!(queue.is_empty(), "yesterday's visits leave today's queue");
}

#[tokio::test]
async fn figures_count_the_same_day_rate_and_waiting_time_over_berlin_days() {
    let office = Office::open().await;
    let mut advisor = office.client(&office.advisor).await;
    // Consulted after 30 minutes on 10 March, and after midnight for an arrival late on 10 March.
    for (arrival, start) in [
        (utc(2026, 3, 10, 8, 0), utc(2026, 3, 10, 8, 30)),
        (utc(2026, 3, 10, 22, 50), utc(2026, 3, 10, 23, 20)),
    ] {
        office.app.clock.set(arrival);
        let visit = office.visit(&office.desk).await;
        office
            .client(&office.desk)
            .await
            .record_access_check(continue_check(&visit.id))
            .await
            .expect("checked");
        office.app.clock.set(start);
        advisor
            .start_consultation(pb::StartConsultationRequest {
                visit_id: visit.id,
                request_id: String::new(),
            })
            .await
            .expect("started");
    }
    let figures = office
        .client(&office.lead)
        .await
        .get_team_figures(pb::GetTeamFiguresRequest {
            team_id: office.team.to_string(),
            start_date: crate::date(2026, 3, 10),
            end_date: crate::date(2026, 3, 11),
        })
        .await
        .expect("figures")
        .into_inner();
    assert_eq!(figures.visits, 2);
    assert_eq!(figures.consultations, 2);
    assert_eq!(figures.same_day_consultations, 1);
    assert_eq!(figures.same_day_rate, 0.5);
    assert_eq!(figures.median_wait_minutes, 30.0);
}
