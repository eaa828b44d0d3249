//! Retention at intake: a visit that led to no case, and a person with no visit or change for
//! the period, are erased with a proof of deletion and no personal data left; the front
//! desk's figures stay as they were.

use chrono::{Days, Months};
use fallwerk_platform::clock::Clock;
use fallwerk_proto::intake as pb;
use fallwerk_tests::tables_mentioning;
use tonic::Code;

use crate::{Office, wire_date};

/// A new applicant's visit at the home team with `concern`, ended as the person left.
async fn ended_visit(office: &Office, family: &str, concern: &str) -> pb::Visit {
    let applicant = office.applicant(&office.desk, family).await;
    let mut desk = office.client(&office.desk).await;
    let visit = desk
        .register_visit(pb::RegisterVisitRequest {
            applicant_id: applicant,
            concern: concern.into(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("visit registered")
        .into_inner()
        .visit
        .expect("visit");
    desk.end_visit(pb::EndVisitRequest {
        visit_id: visit.id.clone(),
        reason: pb::VisitEndReason::Left.into(),
        note: format!("{family} ging vor dem Aufruf"),
        request_id: String::new(),
    })
    .await
    .expect("visit ended");
    visit
}

/// The team's figures over the 300 days from `first`.
async fn figures(office: &Office, first: chrono::NaiveDate) -> pb::GetTeamFiguresResponse {
    office
        .client(&office.lead)
        .await
        .get_team_figures(pb::GetTeamFiguresRequest {
            team_id: office.team.to_string(),
            start_date: Some(wire_date(first)),
            end_date: Some(wire_date(first + Days::new(300))),
        })
        .await
        .expect("figures")
        .into_inner()
}

#[tokio::test]
async fn a_person_without_a_case_is_erased_after_the_period_with_proof_and_the_figures_stay() {
    let office = Office::open().await;
    let start = office.app.clock.now();
    let first_day = start.date_naive() - Days::new(1);
    let old = ended_visit(&office, "Weber", "Miete seit März nicht bezahlt").await;
    // Seven months on, another person comes and goes: within the period at the run.
    office.app.clock.set(start + Days::new(200));
    let recent = ended_visit(&office, "Yilmaz", "Heizung kaputt").await;
    let before = figures(&office, first_day).await;
    let run_at = start + Months::new(7);

    let dry = office.app.retention_run(run_at, true).await;
    let due: Vec<_> = dry
        .classes
        .iter()
        .map(|c| (c.class, c.due.clone()))
        .collect();
    assert_eq!(
        due,
        [
            ("visit_without_case", vec![old.id.parse().expect("uuid")]),
            ("applicant", vec![old.applicant_id.parse().expect("uuid")]),
        ]
    );
    let mut desk = office.client(&office.desk).await;
    let get = |id: &str| pb::GetApplicantRequest { id: id.into() };
    desk.get_applicant(get(&old.applicant_id))
        .await
        .expect("a dry run erases nothing");

    let run = office.app.retention_run(run_at, false).await;
    assert_eq!(
        run.classes.iter().map(|c| c.erased).collect::<Vec<_>>(),
        [1, 1]
    );
    let gone = desk.get_applicant(get(&old.applicant_id)).await;
    assert_eq!(gone.expect_err("erased").code(), Code::NotFound);
    desk.get_applicant(get(&recent.applicant_id))
        .await
        .expect("the recent person stays");

    let pool = office.app.db.pool().await;
    let proof: Vec<(String, uuid::Uuid, String, String)> = sqlx::query_as(
        "SELECT record_class, record_id, rule, cause FROM intake.erasure_proof ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .expect("proof");
    let proven: Vec<_> = proof
        .iter()
        .map(|(class, id, _, cause)| (class.as_str(), id.to_string(), cause.as_str()))
        .collect();
    assert_eq!(
        proven,
        [
            ("visit_without_case", old.id.clone(), "retention"),
            ("applicant", old.applicant_id.clone(), "retention"),
        ]
    );
    assert!(proof[1].2.starts_with("applicant: 6m after the last visit"));
    for tamper in [
        "UPDATE intake.erasure_proof SET rule = 'nothing'",
        "DELETE FROM intake.erasure_proof",
        "TRUNCATE intake.erasure_proof",
    ] {
        let refused = sqlx::query(tamper).execute(&pool).await;
        assert!(refused.is_err(), "the proof is append-only: {tamper}");
    }
    for gone in ["Weber", "Miete seit März"] {
        assert_eq!(
            tables_mentioning(&pool, "intake", gone).await,
            Vec::<String>::new(),
            "{gone:?} is still stored"
        );
    }
    // The scan finds what is kept.
    assert_eq!(
        tables_mentioning(&pool, "intake", "Yilmaz").await,
        ["applicants", "visits"]
    );
    let announced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM intake.outbox WHERE event_type = 'fallwerk.intake.v1.ApplicantErased'",
    )
    .fetch_one(&pool)
    .await
    .expect("outbox");
    assert_eq!(announced, 1, "case-plan and partner learn of it");
    assert_eq!(
        figures(&office, first_day).await,
        before,
        "the figures still add up"
    );

    let again = office.app.retention_run(run_at, false).await;
    assert!(
        again
            .classes
            .iter()
            .all(|c| c.due.is_empty() && c.erased == 0)
    );
}

#[tokio::test]
async fn a_person_with_a_visit_under_way_is_kept_however_old_their_record() {
    let office = Office::open().await;
    let start = office.app.clock.now();
    let waiting = office.visit(&office.desk).await;
    let run = office
        .app
        .retention_run(start + Months::new(24), false)
        .await;
    assert!(run.classes.iter().all(|c| c.due.is_empty()), "{run:?}");
    office
        .client(&office.desk)
        .await
        .get_applicant(pb::GetApplicantRequest {
            id: waiting.applicant_id,
        })
        .await
        .expect("kept");
}
