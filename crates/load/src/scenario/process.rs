//! The whole process after the arrival: plan, agreement, consent, referral and the partner's
//! part, review, closure.

use fallwerk_proto::{
    caseplan::{self, case_plan_service_client::CasePlanServiceClient},
    google::r#type::Date,
    partner::{
        self, partner_agency_service_client::PartnerAgencyServiceClient,
        partner_service_client::PartnerServiceClient,
    },
    types,
};
use tokio::time::Instant;

use super::{
    PROPAGATION_LIMIT, Scenario, idempotent, pick, request_id, setup::CATEGORIES, timed, with,
};
use crate::report::Recorder;

/// A case with a referral the partner system accepted.
pub(super) struct Referred {
    pub(super) advisor: usize,
    pub(super) case_id: String,
    pub(super) referral_id: String,
    pub(super) goal_id: String,
}

impl Scenario {
    /// The `i`-th person's whole way, from the front desk to the closed case.
    pub(super) async fn process(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let Some(referred) = self.until_accepted(i, intended, recorder).await else {
            return;
        };
        let (Some(agency), advisor) = (&self.agency, &self.advisors[referred.advisor]) else {
            return;
        };
        let mut system = PartnerAgencyServiceClient::new(pick(&self.partner, i));
        if timed(
            recorder,
            "partner ReportProgress",
            Instant::now(),
            system.report_progress(idempotent(progress(&referred.referral_id), &agency.token)),
        )
        .await
        .is_none()
        {
            return;
        }
        if timed(
            recorder,
            "partner CompleteReferral",
            Instant::now(),
            system.complete_referral(idempotent(
                partner::CompleteReferralRequest {
                    referral_id: referred.referral_id.clone(),
                    outcome: partner::ReferralOutcome::Completed.into(),
                    request_id: request_id(),
                },
                &agency.token,
            )),
        )
        .await
        .is_none()
        {
            return;
        }
        let mut plans = CasePlanServiceClient::new(pick(&self.case_plan, i));
        if timed(
            recorder,
            "case-plan RecordReview",
            Instant::now(),
            plans.record_review(idempotent(
                caseplan::RecordReviewRequest {
                    case_id: referred.case_id.clone(),
                    review: Some(caseplan::Review {
                        goals: vec![caseplan::GoalReview {
                            goal_id: referred.goal_id.clone(),
                            progress: caseplan::GoalProgress::Reached.into(),
                            note: "Kita ab Januar".into(),
                        }],
                        next_review_date: Some(in_days(90)),
                        ..Default::default()
                    }),
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await
        .is_none()
        {
            return;
        }
        let Some(case) = timed(
            recorder,
            "case-plan GetCase",
            Instant::now(),
            plans.get_case(with(
                caseplan::GetCaseRequest {
                    case_id: referred.case_id.clone(),
                    min_intake_position: 0,
                },
                advisor,
            )),
        )
        .await
        .and_then(|c| c.case) else {
            return;
        };
        timed(
            recorder,
            "case-plan CloseCase",
            Instant::now(),
            plans.close_case(idempotent(
                caseplan::CloseCaseRequest {
                    case_id: case.id,
                    closure: Some(caseplan::Closure {
                        outcome: caseplan::CaseOutcome::WorkTakenUp.into(),
                        note: "Teilzeit im Seniorenheim".into(),
                        follow_up_date: Some(in_days(180)),
                        ..Default::default()
                    }),
                    etag: case.etag,
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await;
    }

    /// The process from the arrival to the referral the partner system accepted: the plan
    /// with its goals and steps, the agreement, the consent, the referral (and its way to the
    /// partner system's stream).
    pub(super) async fn until_accepted(
        &self,
        i: u64,
        intended: Instant,
        recorder: &Recorder,
    ) -> Option<Referred> {
        let agency = self.agency.as_ref()?;
        let opened = self.arrival(i, intended, recorder).await?;
        let advisor = &self.advisors[opened.advisor];
        let case_id = opened.case.id.clone();
        let mut plans = CasePlanServiceClient::new(pick(&self.case_plan, i));
        let mut staff = PartnerServiceClient::new(pick(&self.partner, i));

        // case-plan's CaseRegistered on its way to partner, from the moment case-plan had the
        // case; partner answers NOT_FOUND for a case it has not heard of and has no call that
        // waits for a feed position, so this polls. The polls are load of their own, outside
        // the report; every 5 ms keeps them few, at that resolution.
        let since = Instant::now();
        loop {
            let known = staff
                .list_consents(with(
                    partner::ListConsentsRequest {
                        case_id: case_id.clone(),
                        ..Default::default()
                    },
                    advisor,
                ))
                .await;
            match known {
                Ok(_) => {
                    recorder.ok("case-plan → partner: case known", since.elapsed());
                    break;
                }
                Err(status)
                    if status.code() == tonic::Code::NotFound
                        && since.elapsed() < PROPAGATION_LIMIT =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                Err(status) => {
                    recorder.failed("case-plan → partner: case known", &status);
                    return None;
                }
            }
        }

        let case = timed(
            recorder,
            "case-plan UpdateCase",
            Instant::now(),
            plans.update_case(with(
                caseplan::UpdateCaseRequest {
                    case: Some(caseplan::Case {
                        id: case_id.clone(),
                        legal_basis: types::LegalBasis::SgbIi.into(),
                        etag: opened.case.etag,
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["legal_basis".into()],
                    }),
                },
                advisor,
            )),
        )
        .await?
        .case?;
        let plan = timed(
            recorder,
            "case-plan ReviseHelpPlan",
            Instant::now(),
            plans.revise_help_plan(idempotent(first_plan(&case.id), advisor)),
        )
        .await?
        .plan?;
        let draft = timed(
            recorder,
            "case-plan CreateAgreement",
            Instant::now(),
            plans.create_agreement(idempotent(
                caseplan::CreateAgreementRequest {
                    case_id: case_id.clone(),
                    agreement: Some(caseplan::Agreement {
                        text: "Frau Lasttest beantragt den Kita-Gutschein; das Amt schickt \
                               passende Stellenangebote in der Pflege."
                            .into(),
                        review_date: Some(in_days(60)),
                        ..Default::default()
                    }),
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?
        .agreement?;
        recorder.acknowledged("agreement", &draft.id);
        let proposed = timed(
            recorder,
            "case-plan ProposeAgreement",
            Instant::now(),
            plans.propose_agreement(idempotent(
                caseplan::ProposeAgreementRequest {
                    agreement_id: draft.id,
                    etag: draft.etag,
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?
        .agreement?;
        timed(
            recorder,
            "case-plan AcceptAgreement",
            Instant::now(),
            plans.accept_agreement(idempotent(
                caseplan::AcceptAgreementRequest {
                    agreement_id: proposed.id,
                    acknowledgement: Some(caseplan::Acknowledgement {
                        channel: caseplan::AcknowledgementChannel::Email.into(),
                        ..Default::default()
                    }),
                    etag: proposed.etag,
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?;
        timed(
            recorder,
            "partner RecordConsent",
            Instant::now(),
            staff.record_consent(idempotent(
                partner::RecordConsentRequest {
                    consent: Some(partner::Consent {
                        case_id: case_id.clone(),
                        partner_id: agency.partner_id.clone(),
                        purpose: "Vermittlung eines Kita-Platzes".into(),
                        categories: CATEGORIES.iter().map(|c| (*c).into()).collect(),
                        form: partner::ConsentForm::Written.into(),
                        evidence: "Akte, Blatt 12".into(),
                        given_date: Some(in_days(0)),
                        valid_until: Some(in_days(365)),
                        ..Default::default()
                    }),
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?;
        let goal = plan.goals.first()?;
        let referral = timed(
            recorder,
            "partner CreateReferral",
            Instant::now(),
            staff.create_referral(idempotent(
                partner::CreateReferralRequest {
                    case_id: case_id.clone(),
                    offer_id: agency.offer_id.clone(),
                    step_id: goal.steps.first()?.id.clone(),
                    reason: "Kita-Platz für die Tochter, damit sie arbeiten kann".into(),
                    categories: CATEGORIES.iter().map(|c| (*c).into()).collect(),
                    notes: String::new(),
                    when_full: partner::WhenFull::Refuse.into(),
                    request_id: request_id(),
                },
                advisor,
            )),
        )
        .await?
        .referral?;
        recorder.acknowledged("referral", &referral.id);
        let answered = Instant::now();
        match agency
            .delivered
            .wait_for(&referral.id, answered + PROPAGATION_LIMIT)
            .await
        {
            Some(seen) => recorder.ok(
                "partner → agency stream: referral delivered",
                seen.saturating_duration_since(answered),
            ),
            None => recorder.error(
                "partner → agency stream: referral delivered",
                tonic::Code::DeadlineExceeded,
            ),
        }
        let mut system = PartnerAgencyServiceClient::new(pick(&self.partner, i));
        timed(
            recorder,
            "partner AcceptReferral",
            Instant::now(),
            system.accept_referral(idempotent(
                partner::AcceptReferralRequest {
                    referral_id: referral.id.clone(),
                    request_id: request_id(),
                },
                &agency.token,
            )),
        )
        .await?;
        Some(Referred {
            advisor: opened.advisor,
            case_id,
            referral_id: referral.id,
            goal_id: goal.id.clone(),
        })
    }
}

/// The partner system's report that the client started.
pub(super) fn progress(referral_id: &str) -> partner::ReportProgressRequest {
    partner::ReportProgressRequest {
        referral_id: referral_id.into(),
        progress: partner::Progress::Started.into(),
        next_contact: Some(in_days(14)),
        note: "Erstgespräch geführt, Platzsuche läuft".into(),
        request_id: request_id(),
    }
}

/// The day `days` from today (UTC), so that plans and reviews fall due as in a real office
/// and show in the advisors' "what needs me" list.
fn in_days(days: u64) -> Date {
    use chrono::Datelike;
    let day = chrono::Utc::now().date_naive() + chrono::Days::new(days);
    Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

/// A first plan: childcare first, then work.
fn first_plan(case_id: &str) -> caseplan::ReviseHelpPlanRequest {
    let step = |action: &str, owner: caseplan::StepOwner, due: Option<Date>| caseplan::Step {
        action: action.into(),
        owner: owner.into(),
        due_date: due,
        ..Default::default()
    };
    caseplan::ReviseHelpPlanRequest {
        case_id: case_id.into(),
        goals: vec![
            caseplan::Goal {
                category: caseplan::GoalCategory::Childcare.into(),
                own_words: "Einen Kita-Platz für meine Tochter finden".into(),
                steps: vec![step(
                    "Kita-Gutschein beim Jugendamt beantragen",
                    caseplan::StepOwner::Client,
                    Some(in_days(14)),
                )],
                ..Default::default()
            },
            caseplan::Goal {
                category: caseplan::GoalCategory::Work.into(),
                own_words: "Wieder in der Pflege arbeiten, erst in Teilzeit".into(),
                steps: vec![
                    step(
                        "Lebenslauf aktualisieren",
                        caseplan::StepOwner::Client,
                        Some(in_days(30)),
                    ),
                    step(
                        "Stellenangebote Pflege schicken",
                        caseplan::StepOwner::Office,
                        None,
                    ),
                ],
                ..Default::default()
            },
        ],
        cause: caseplan::RevisionCause::FirstPlan.into(),
        // The plan before the first revision.
        etag: "0".into(),
        request_id: request_id(),
    }
}
