//! What advisors and partner systems do between the big steps: mostly reading.

use fallwerk_proto::{
    caseplan::{self, case_plan_service_client::CasePlanServiceClient},
    partner::{self, partner_agency_service_client::PartnerAgencyServiceClient},
};
use tokio::time::Instant;

use super::{Scenario, idempotent, pick, process::progress, timed, with};
use crate::report::Recorder;

/// Entries a list call asks for: a screen's worth.
const PAGE: i32 = 20;

impl Scenario {
    /// An advisor opens the day's work: what needs me, my caseload's first page, one of my
    /// cases and its timeline. Each is its own step; a failed one does not stop the others.
    pub(super) async fn advisor_reads(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let seeded = &self.seeded[i as usize % self.seeded.len()];
        let advisor = &self.advisors[seeded.advisor];
        let mut plans = CasePlanServiceClient::new(pick(&self.case_plan, i));
        timed(
            recorder,
            "case-plan ListDueItems",
            intended,
            plans.list_due_items(with(
                caseplan::ListDueItemsRequest {
                    scope: caseplan::CaseScope::Mine.into(),
                    within_days: 30,
                    ..Default::default()
                },
                advisor,
            )),
        )
        .await;
        timed(
            recorder,
            "case-plan ListCases",
            Instant::now(),
            plans.list_cases(with(
                caseplan::ListCasesRequest {
                    scope: caseplan::CaseScope::Mine.into(),
                    page_size: PAGE,
                    ..Default::default()
                },
                advisor,
            )),
        )
        .await;
        timed(
            recorder,
            "case-plan GetCase",
            Instant::now(),
            plans.get_case(with(
                caseplan::GetCaseRequest {
                    case_id: seeded.case_id.clone(),
                    min_intake_position: 0,
                },
                advisor,
            )),
        )
        .await;
        timed(
            recorder,
            "case-plan ListTimelineEntries",
            Instant::now(),
            plans.list_timeline_entries(with(
                caseplan::ListTimelineEntriesRequest {
                    case_id: seeded.case_id.clone(),
                    page_size: PAGE,
                    page_token: String::new(),
                },
                advisor,
            )),
        )
        .await;
    }

    /// One advisor's read of one of their cases (audited, as every read of a case).
    pub(super) async fn get_case(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let seeded = &self.seeded[i as usize % self.seeded.len()];
        let mut plans = CasePlanServiceClient::new(pick(&self.case_plan, i));
        let request = caseplan::GetCaseRequest {
            case_id: seeded.case_id.clone(),
            min_intake_position: 0,
        };
        let call = plans.get_case(with(request, &self.advisors[seeded.advisor]));
        timed(recorder, "case-plan GetCase", intended, call).await;
    }

    /// A partner system's turn: the first page of its referrals, one of them, and a progress report on it.
    pub(super) async fn agency_turn(&self, i: u64, intended: Instant, recorder: &Recorder) {
        let Some(agency) = &self.agency else {
            return;
        };
        let seeded = &self.seeded[i as usize % self.seeded.len()];
        let mut system = PartnerAgencyServiceClient::new(pick(&self.partner, i));
        timed(
            recorder,
            "partner ListMyReferrals",
            intended,
            system.list_my_referrals(with(
                partner::ListMyReferralsRequest {
                    page_size: PAGE,
                    ..Default::default()
                },
                &agency.token,
            )),
        )
        .await;
        timed(
            recorder,
            "partner GetMyReferral",
            Instant::now(),
            system.get_my_referral(with(
                partner::GetMyReferralRequest {
                    referral_id: seeded.referral_id.clone(),
                },
                &agency.token,
            )),
        )
        .await;
        timed(
            recorder,
            "partner ReportProgress",
            Instant::now(),
            system.report_progress(idempotent(progress(&seeded.referral_id), &agency.token)),
        )
        .await;
    }
}
