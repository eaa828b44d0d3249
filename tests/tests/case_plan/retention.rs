//! Retention in case-plan: a closed case is erased a period after its follow-up, unless a
//! legal hold keeps it; the client at intake goes once every case of theirs has.

use chrono::Months;
use fallwerk_proto::{caseplan as pb, intake};
use fallwerk_tests::bad_fields;
use tonic::Code;

use crate::{World, date, today};

/// Closes `case` with a follow-up in three months.
async fn close(world: &World, case: &pb::Case) -> pb::Case {
    world
        .plans(&world.office.advisor)
        .await
        .close_case(pb::CloseCaseRequest {
            case_id: case.id.clone(),
            closure: Some(pb::Closure {
                outcome: pb::CaseOutcome::IndependentOfAssistance.into(),
                note: "Rente bewilligt".into(),
                follow_up_date: date(2027, 3, 1),
                ..Default::default()
            }),
            etag: case.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("closed")
        .into_inner()
        .case
        .expect("case")
}

fn hold(case: &pb::Case, hold: bool, reason: &str) -> pb::SetLegalHoldRequest {
    pb::SetLegalHoldRequest {
        case_id: case.id.clone(),
        hold,
        reason: reason.into(),
        etag: case.etag.clone(),
    }
}

#[tokio::test]
async fn a_legal_hold_keeps_a_closed_case_and_its_client_until_it_is_released() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let closed = close(&world, &case).await;
    let mut lead = world.plans(&office.lead).await;

    let no_reason = lead.set_legal_hold(hold(&closed, true, " ")).await;
    assert_eq!(bad_fields(&no_reason.expect_err("refused")), ["reason"]);
    let reason_on_release = lead.set_legal_hold(hold(&closed, false, "weil")).await;
    assert_eq!(
        bad_fields(&reason_on_release.expect_err("refused")),
        ["reason"]
    );
    let advisor = world
        .plans(&office.advisor)
        .await
        .set_legal_hold(hold(&closed, true, "Klage"))
        .await;
    assert_eq!(
        advisor.expect_err("lead only").code(),
        Code::PermissionDenied
    );
    let other_lead = world
        .plans(&office.other_lead)
        .await
        .set_legal_hold(hold(&closed, true, "Klage"))
        .await;
    assert_eq!(other_lead.expect_err("other team").code(), Code::NotFound);

    let reason = "Klage vor dem Sozialgericht, Az. S 12 SO 345/26";
    let held = lead
        .set_legal_hold(hold(&closed, true, reason))
        .await
        .expect("held")
        .into_inner()
        .case
        .expect("case");
    let legal_hold = held.legal_hold.clone().expect("legal hold");
    assert_eq!(
        (legal_hold.reason.as_str(), legal_hold.placed_by.as_str()),
        (reason, "lead-1")
    );

    // Eleven years on, the hold keeps the case, and with it the client at intake.
    let later = today() + Months::new(12 * 11);
    let run = world.case_plan.retention_run(later, false).await;
    assert_eq!((run.classes[0].due.len(), run.classes[0].erased), (0, 0));
    let at_intake = office.app.retention_run(later, false).await;
    let applicant: uuid::Uuid = case.applicant_id.parse().expect("uuid");
    assert!(
        at_intake
            .classes
            .iter()
            .all(|c| !c.due.contains(&applicant))
    );
    world.read_case(&office.lead, &case.id).await;

    let released = lead
        .set_legal_hold(hold(&held, false, ""))
        .await
        .expect("released")
        .into_inner()
        .case
        .expect("case");
    assert_eq!(released.legal_hold, None);
    let run = world.case_plan.retention_run(later, false).await;
    assert_eq!(run.classes[0].erased, 1);
    let gone = lead
        .get_case(pb::GetCaseRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(gone.expect_err("erased").code(), Code::NotFound);

    world.intake_learns_erasure_of(&case.id).await;
    let at_intake = office.app.retention_run(later, false).await;
    let erased: Vec<_> = at_intake
        .classes
        .iter()
        .map(|c| (c.class, c.erased))
        .collect();
    assert_eq!(erased, [("visit_without_case", 0), ("applicant", 1)]);
    let client = office
        .client(&office.desk)
        .await
        .get_applicant(intake::GetApplicantRequest {
            id: case.applicant_id.clone(),
        })
        .await;
    assert_eq!(client.expect_err("erased").code(), Code::NotFound);
}
