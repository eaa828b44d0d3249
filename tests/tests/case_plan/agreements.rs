//! Help agreements in their legal forms: each form's way of being agreed, its review limit,
//! the states an agreement moves through, disputes, supersession and team-lead approval.

use fallwerk_proto::{caseplan as pb, types};
use fallwerk_tests::{bad_fields, error_reason};
use tonic::Code;

use crate::{World, date, text_form};

fn signed(client: bool, office: bool) -> pb::Acknowledgement {
    pb::Acknowledgement {
        channel: pb::AcknowledgementChannel::InPerson.into(),
        client_signed: client,
        office_signed: office,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_cooperation_plan_is_agreed_in_text_form_and_reviewed_within_six_months() {
    let world = World::open().await;
    let (case, _) = world.planned_case(types::LegalBasis::SgbIi).await;
    let mut plans = world.plans(&world.office.advisor).await;

    // Today is 1 December 2026: a review later than 1 June 2027 is beyond § 15 SGB II.
    let too_late = plans
        .create_agreement(pb::CreateAgreementRequest {
            case_id: case.id.clone(),
            agreement: Some(crate::agreement_draft(date(2027, 6, 2))),
            request_id: String::new(),
        })
        .await
        .expect_err("review beyond six months");
    assert_eq!(too_late.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&too_late), ["agreement.review_date"]);

    let draft = world.draft(&case.id, date(2027, 6, 1)).await;
    assert_eq!(draft.form(), pb::AgreementForm::CooperationPlan);
    assert_eq!(draft.state(), pb::AgreementState::Draft);
    assert_eq!(draft.plan_revision, 1);

    // Agreed by e-mail, unsigned: text form is this form's way.
    let agreed = world.agree(draft, text_form()).await.expect("agreed");
    assert_eq!(agreed.state(), pb::AgreementState::Active);
    let ack = agreed.acknowledgement.expect("acknowledgement");
    assert!(!ack.client_signed && !ack.office_signed);
    assert_eq!(ack.recorded_by, "advisor-1");

    let case = world.read_case(&world.office.advisor, &case.id).await;
    assert_eq!(case.agreement_id, agreed.id);
    assert_eq!(case.next_review_date, date(2027, 6, 1));
}

#[tokio::test]
async fn a_signed_agreement_needs_both_signatures() {
    let world = World::open().await;
    let (case, _) = world.planned_case(types::LegalBasis::Other).await;
    let draft = world.draft(&case.id, date(2027, 9, 1)).await;
    assert_eq!(draft.form(), pb::AgreementForm::SignedAgreement);
    let refused = world
        .agree(draft.clone(), signed(true, false))
        .await
        .expect_err("without the office's signature");
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("SIGNATURES_REQUIRED")
    );

    let current = world.agreement(&draft.id).await;
    assert_eq!(
        current.state(),
        pb::AgreementState::Proposed,
        "still a proposal"
    );
    let agreed = world
        .plans(&world.office.advisor)
        .await
        .accept_agreement(pb::AcceptAgreementRequest {
            request_id: String::new(),
            agreement_id: current.id.clone(),
            acknowledgement: Some(signed(true, true)),
            etag: current.etag,
        })
        .await
        .expect("signed by both")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(agreed.state(), pb::AgreementState::Active);
}

#[tokio::test]
async fn an_sgb_xii_written_agreement_exists_only_with_the_clients_assent() {
    let world = World::open().await;
    let (case, _) = world.planned_case(types::LegalBasis::SgbXiiChapter3).await;
    let draft = world.draft(&case.id, date(2027, 9, 1)).await;
    assert_eq!(draft.form(), pb::AgreementForm::WrittenAgreement);
    let refused = world
        .agree(draft.clone(), signed(true, true))
        .await
        .expect_err("signed, but no assent");
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("CLIENT_ASSENT_REQUIRED")
    );
    let current = world.agreement(&draft.id).await;
    let agreed = world
        .plans(&world.office.advisor)
        .await
        .accept_agreement(pb::AcceptAgreementRequest {
            request_id: String::new(),
            agreement_id: current.id.clone(),
            acknowledgement: Some(pb::Acknowledgement {
                channel: pb::AcknowledgementChannel::Letter.into(),
                client_assent: true,
                ..Default::default()
            }),
            etag: current.etag,
        })
        .await
        .expect("with assent")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(agreed.state(), pb::AgreementState::Active);
}

#[tokio::test]
async fn an_agreement_needs_a_legal_basis_a_plan_and_no_other_in_progress() {
    let world = World::open().await;
    let office = &world.office;
    let case = world.case(&office.desk, &office.advisor).await;
    let mut plans = world.plans(&office.advisor).await;
    let create = |case_id: &str| pb::CreateAgreementRequest {
        case_id: case_id.into(),
        agreement: Some(crate::agreement_draft(date(2027, 3, 1))),
        request_id: String::new(),
    };
    let status = plans
        .create_agreement(create(&case.id))
        .await
        .expect_err("no basis");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("LEGAL_BASIS_REQUIRED")
    );

    let case = plans
        .update_case(pb::UpdateCaseRequest {
            case: Some(pb::Case {
                id: case.id.clone(),
                legal_basis: types::LegalBasis::SgbIi.into(),
                etag: case.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["legal_basis".into()],
            }),
        })
        .await
        .expect("basis")
        .into_inner()
        .case
        .expect("case");
    let status = plans
        .create_agreement(create(&case.id))
        .await
        .expect_err("no plan");
    assert_eq!(error_reason(&status).as_deref(), Some("PLAN_REQUIRED"));

    plans
        .revise_help_plan(crate::first_plan(&case.id))
        .await
        .expect("plan");
    plans
        .create_agreement(create(&case.id))
        .await
        .expect("first draft");
    let status = plans
        .create_agreement(create(&case.id))
        .await
        .expect_err("second draft");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("AGREEMENT_IN_PROGRESS")
    );
}

#[tokio::test]
async fn an_agreed_agreement_never_changes_a_new_one_supersedes_it() {
    let world = World::open().await;
    let (case, agreement) = world.case_with_agreement().await;
    let mut plans = world.plans(&world.office.advisor).await;

    // A draft changes; accepting a draft is refused.
    let status = plans
        .accept_agreement(pb::AcceptAgreementRequest {
            request_id: String::new(),
            agreement_id: agreement.id.clone(),
            acknowledgement: Some(text_form()),
            etag: agreement.etag.clone(),
        })
        .await
        .expect_err("a draft is not agreed");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("AGREEMENT_NOT_PROPOSED")
    );
    let edited = plans
        .update_agreement(pb::UpdateAgreementRequest {
            agreement: Some(pb::Agreement {
                id: agreement.id.clone(),
                text: "Kita-Gutschein bis 31.1.".into(),
                etag: agreement.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["text".into()],
            }),
        })
        .await
        .expect("a draft changes")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(edited.text, "Kita-Gutschein bis 31.1.");

    let first = world.agree(edited, text_form()).await.expect("agreed");
    let status = plans
        .update_agreement(pb::UpdateAgreementRequest {
            agreement: Some(pb::Agreement {
                id: first.id.clone(),
                text: "anders".into(),
                etag: first.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["text".into()],
            }),
        })
        .await
        .expect_err("an agreed agreement never changes");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("AGREEMENT_NOT_DRAFT")
    );

    // The change is a new agreement that supersedes the first when agreed.
    let second = world.draft(&case.id, date(2027, 4, 1)).await;
    assert_eq!(second.supersedes_id, first.id);
    let second = world
        .agree(second, text_form())
        .await
        .expect("second agreed");
    assert_eq!(second.state(), pb::AgreementState::Active);
    assert_eq!(
        world.agreement(&first.id).await.state(),
        pb::AgreementState::Superseded
    );
    let listed = plans
        .list_agreements(pb::ListAgreementsRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed
            .agreements
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        [second.id.as_str(), first.id.as_str()],
        "newest first"
    );
}

#[tokio::test]
async fn comments_a_decline_and_a_dispute_are_recorded() {
    let world = World::open().await;
    let (case, agreement) = world.case_with_agreement().await;
    let mut plans = world.plans(&world.office.advisor).await;
    let proposed = plans
        .propose_agreement(pb::ProposeAgreementRequest {
            request_id: String::new(),
            agreement_id: agreement.id.clone(),
            etag: agreement.etag.clone(),
        })
        .await
        .expect("proposed")
        .into_inner()
        .agreement
        .expect("agreement");
    let commented = plans
        .comment_on_agreement(pb::CommentOnAgreementRequest {
            request_id: String::new(),
            agreement_id: proposed.id.clone(),
            comment: Some(pb::AgreementComment {
                author: pb::CommentAuthor::Client.into(),
                text: "Bewerbungen erst ab Februar, wenn die Kita steht".into(),
                counter_proposal: true,
                ..Default::default()
            }),
            etag: proposed.etag.clone(),
        })
        .await
        .expect("comment")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(commented.comments.len(), 1);
    assert!(commented.comments[0].counter_proposal);
    let declined = plans
        .decline_agreement(pb::DeclineAgreementRequest {
            request_id: String::new(),
            agreement_id: commented.id.clone(),
            reason: "Zu früh".into(),
            etag: commented.etag.clone(),
        })
        .await
        .expect("declined")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(declined.state(), pb::AgreementState::Declined);
    assert_eq!(declined.decline_reason, "Zu früh");
    let status = plans
        .comment_on_agreement(pb::CommentOnAgreementRequest {
            request_id: String::new(),
            agreement_id: declined.id.clone(),
            comment: Some(pb::AgreementComment {
                author: pb::CommentAuthor::Office.into(),
                text: "Noch etwas".into(),
                ..Default::default()
            }),
            etag: declined.etag.clone(),
        })
        .await
        .expect_err("a declined agreement takes no comments");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("AGREEMENT_CLOSED_TO_COMMENTS")
    );

    // A new one is agreed, then disputed: paused, kept; disputed again, ended.
    let next = world.draft(&case.id, date(2027, 3, 1)).await;
    let agreed = world.agree(next, text_form()).await.expect("agreed");
    let dispute = |agreement: &pb::Agreement| pb::DisputeAgreementRequest {
        request_id: String::new(),
        agreement_id: agreement.id.clone(),
        objection: "Die Auflage zu Bewerbungen ist unzumutbar".into(),
        etag: agreement.etag.clone(),
    };
    let disputed = plans
        .dispute_agreement(dispute(&agreed))
        .await
        .expect("disputed")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(disputed.state(), pb::AgreementState::Disputed);
    let resolve =
        |agreement: &pb::Agreement, outcome: pb::DisputeOutcome| pb::ResolveDisputeRequest {
            request_id: String::new(),
            agreement_id: agreement.id.clone(),
            resolution: "Im Gespräch mit der Teamleitung geklärt".into(),
            outcome: outcome.into(),
            etag: agreement.etag.clone(),
        };
    let mut lead = world.plans(&world.office.lead).await;
    let kept = lead
        .resolve_dispute(resolve(&disputed, pb::DisputeOutcome::Keep))
        .await
        .expect("kept")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(kept.state(), pb::AgreementState::Active);
    assert_eq!(
        kept.dispute.as_ref().map(|d| d.outcome()),
        Some(pb::DisputeOutcome::Keep)
    );
    let status = lead
        .resolve_dispute(resolve(&kept, pb::DisputeOutcome::End))
        .await
        .expect_err("nothing to resolve");
    assert_eq!(
        error_reason(&status).as_deref(),
        Some("AGREEMENT_NOT_DISPUTED")
    );
    let disputed = plans
        .dispute_agreement(dispute(&kept))
        .await
        .expect("disputed again")
        .into_inner()
        .agreement
        .expect("agreement");
    let ended = lead
        .resolve_dispute(resolve(&disputed, pb::DisputeOutcome::End))
        .await
        .expect("ended")
        .into_inner()
        .agreement
        .expect("agreement");
    assert_eq!(ended.state(), pb::AgreementState::Ended);
    let case = world.read_case(&world.office.advisor, &case.id).await;
    assert!(case.agreement_id.is_empty(), "no agreement in force");
}

#[tokio::test]
async fn where_the_team_asks_a_revision_is_approved_before_its_agreement_is_proposed() {
    let world = World::open().await;
    let mut lead = world.plans(&world.office.lead).await;
    let settings = lead
        .get_team_settings(pb::GetTeamSettingsRequest {})
        .await
        .expect("settings")
        .into_inner()
        .settings
        .expect("settings");
    assert!(!settings.plan_approval_required);
    let mask = || {
        Some(prost_types::FieldMask {
            paths: vec!["plan_approval_required".into()],
        })
    };
    // Without a mask nothing is written: the client must say what it changes.
    let unmasked = lead
        .update_team_settings(pb::UpdateTeamSettingsRequest {
            settings: Some(pb::TeamSettings {
                plan_approval_required: true,
                etag: settings.etag.clone(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("no mask");
    assert_eq!(fallwerk_tests::bad_fields(&unmasked), ["update_mask"]);
    lead.update_team_settings(pb::UpdateTeamSettingsRequest {
        settings: Some(pb::TeamSettings {
            plan_approval_required: true,
            etag: settings.etag.clone(),
            ..Default::default()
        }),
        update_mask: mask(),
    })
    .await
    .expect("approval required");
    let stale = lead
        .update_team_settings(pb::UpdateTeamSettingsRequest {
            settings: Some(pb::TeamSettings {
                plan_approval_required: false,
                etag: settings.etag,
                ..Default::default()
            }),
            update_mask: mask(),
        })
        .await
        .expect_err("stale settings");
    assert_eq!(stale.code(), Code::Aborted);

    let (case, agreement) = world.case_with_agreement().await;
    let refused = world
        .agree(agreement.clone(), text_form())
        .await
        .expect_err("revision not approved");
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("REVISION_NOT_APPROVED")
    );

    let approved = lead
        .approve_plan_revision(pb::ApprovePlanRevisionRequest {
            request_id: String::new(),
            case_id: case.id.clone(),
            revision: 1,
        })
        .await
        .expect("approved")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(approved.approved_by, "lead-1");
    let again = lead
        .approve_plan_revision(pb::ApprovePlanRevisionRequest {
            request_id: String::new(),
            case_id: case.id.clone(),
            revision: 1,
        })
        .await
        .expect_err("approved twice");
    assert_eq!(
        error_reason(&again).as_deref(),
        Some("REVISION_ALREADY_APPROVED")
    );
    let agreed = world
        .agree(agreement, text_form())
        .await
        .expect("agreed after approval");
    assert_eq!(agreed.state(), pb::AgreementState::Active);
}

#[tokio::test]
async fn a_retried_acceptance_with_its_request_id_answers_as_the_first_did() {
    let world = World::open().await;
    let (_, agreement) = world.case_with_agreement().await;
    let mut plans = world.plans(&world.office.advisor).await;
    let proposed = plans
        .propose_agreement(pb::ProposeAgreementRequest {
            agreement_id: agreement.id.clone(),
            etag: agreement.etag.clone(),
            request_id: String::new(),
        })
        .await
        .expect("proposed")
        .into_inner()
        .agreement
        .expect("agreement");
    let accept = pb::AcceptAgreementRequest {
        agreement_id: proposed.id.clone(),
        acknowledgement: Some(text_form()),
        etag: proposed.etag.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let first = plans
        .accept_agreement(accept.clone())
        .await
        .expect("agreed");
    // The answer was lost on the way; the retry carries the now stale etag and the same key.
    let retry = plans
        .accept_agreement(accept.clone())
        .await
        .expect("the same answer");
    assert_eq!(first.into_inner(), retry.into_inner());
    let mut without_key = accept;
    without_key.request_id = String::new();
    let stale = plans
        .accept_agreement(without_key)
        .await
        .expect_err("without its key a retry is a new, stale request");
    assert!(
        matches!(stale.code(), Code::Aborted | Code::FailedPrecondition),
        "{stale:?}"
    );
}

#[tokio::test]
async fn a_proposal_whose_review_date_is_now_too_far_off_is_refused_naming_the_latest_allowed() {
    let world = World::open().await;
    // Drafted on 1 December 2026 for review on 1 March 2027; accepted "on 1 August 2026", when
    // a cooperation plan may be reviewed no later than 1 February 2027.
    let (case, agreement) = world.case_with_agreement().await;
    world
        .case_plan
        .clock
        .set(crate::today() - chrono::Duration::days(122));
    let refused = world
        .agree(agreement.clone(), text_form())
        .await
        .expect_err("review date too late");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        error_reason(&refused).as_deref(),
        Some("REVIEW_DATE_TOO_LATE")
    );
    assert_eq!(
        fallwerk_tests::error_metadata(&refused, "latest_review_date").as_deref(),
        Some("2027-02-01")
    );
    let unchanged = world.agreement(&agreement.id).await;
    assert_eq!(unchanged.state(), pb::AgreementState::Proposed);
    assert!(
        world
            .plans(&world.office.advisor)
            .await
            .get_case(pb::GetCaseRequest {
                case_id: case.id.clone(),
                ..Default::default()
            })
            .await
            .expect("case")
            .into_inner()
            .case
            .expect("case")
            .agreement_id
            .is_empty(),
        "no agreement in force"
    );
}
