//! Opening a case from a completed consultation (the hand-over to case-plan), and the team's
//! figures, among them the same-day rate.

use chrono::Duration;
use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    idempotency::request_key,
    vocabulary::barrier_numbers,
    wire::{self, timestamp},
};
use fallwerk_proto::{intake as pb, types};

use super::{Intake, applicants::client_facts};
use crate::{
    domain::{self, Assignment, CaseId, ConsultationId, TeamId},
    store::{self, cases::CaseOpeningRow, roster, visits},
};

/// How long OpenCase waits for its event's feed position before answering without it.
const FEED_POSITION_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Intake {
    /// OpenCase: opens the case of a completed consultation with its responsible advisor.
    pub(super) async fn open_case(
        &self,
        caller: &Caller,
        request: pb::OpenCaseRequest,
    ) -> Result<pb::OpenCaseResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("consultation_id", wire::id(&request.consultation_id))
            .map(ConsultationId);
        let assignment = v.check("assignment", assignment(request.assignment));
        let (id, assignment) = v.finish(id.zip(assignment))?;

        let mut opened_same_day = None;
        let mut opened_event = None;
        let answer = self
            .changes
            .create(key, async |change| {
                let consultation = store::consultations::lock(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("consultation", id))?;
                caller.same_team(consultation.team_id, "consultation", id)?;
                consultation.state.may_open_case()?;
                if let Some(opened) = store::cases::of_consultation(change.conn(), id).await? {
                    return Err(case_already_open(opened));
                }
                let applicant = consultation.applicant_id;
                if let Some(open) =
                    store::cases::open_of_applicant(change.conn(), applicant).await?
                {
                    return Err(client_has_open_case(open));
                }
                let responsible = match assignment {
                    Assignment::ConsultingAdvisor => consultation.advisor_id,
                    Assignment::LowestCaseload => {
                        let loads =
                            roster::lock_team_loads(change.conn(), consultation.team_id).await?;
                        domain::lowest_caseload(&loads).ok_or_else(|| {
                            ApiError::ResourceExhausted {
                                reason: pb::ErrorReason::NoAdvisorCapacity.into(),
                                message: "no active advisor of the team has room for another case"
                                    .into(),
                            }
                        })?
                    }
                };
                let visit = visits::get(change.conn(), consultation.visit_id)
                    .await?
                    .ok_or_else(|| ApiError::Internal("consultation without visit".into()))?;
                let now = self.clock.now();
                let opening = CaseOpeningRow {
                    case_id: CaseId::generate(),
                    consultation_id: id,
                    applicant_id: consultation.applicant_id,
                    team_id: consultation.team_id,
                    responsible_advisor_id: responsible,
                    opened_at: now,
                    same_day: consultation.same_day,
                };
                if !store::cases::insert(change.conn(), &opening).await? {
                    // A concurrent opening won the race; answer as if it had come first, in
                    // the order of the checks above.
                    if let Some(opened) = store::cases::of_consultation(change.conn(), id).await? {
                        return Err(case_already_open(opened));
                    }
                    return Err(
                        match store::cases::open_of_applicant(change.conn(), applicant).await? {
                            Some(open) => client_has_open_case(open),
                            None => {
                                ApiError::Internal("case opening refused without a cause".into())
                            }
                        },
                    );
                }
                let client = store::applicants::get(change.conn(), applicant)
                    .await?
                    .ok_or_else(|| ApiError::Internal("consultation without applicant".into()))?;
                let case_opening = pb::CaseOpening {
                    case_id: opening.case_id.to_string(),
                    applicant_id: opening.applicant_id.to_string(),
                    consultation_id: id.to_string(),
                    team_id: opening.team_id.to_string(),
                    responsible_advisor_id: responsible.to_string(),
                    open_time: Some(timestamp(now)),
                    arrive_time: Some(timestamp(visit.arrived_at)),
                    consultation_start_time: Some(timestamp(consultation.started_at)),
                    same_day: consultation.same_day,
                };
                let outcome = consultation.outcome.clone().ok_or_else(|| {
                    ApiError::Internal("completed consultation without outcome".into())
                })?;
                let event = pb::CaseOpened {
                    case_id: case_opening.case_id.clone(),
                    applicant_id: case_opening.applicant_id.clone(),
                    team_id: case_opening.team_id.clone(),
                    responsible_advisor_id: case_opening.responsible_advisor_id.clone(),
                    open_time: case_opening.open_time,
                    client: Some(client_facts(&client)),
                    consultation_id: case_opening.consultation_id.clone(),
                    consulting_advisor_id: consultation.advisor_id.to_string(),
                    arrive_time: case_opening.arrive_time,
                    consultation_start_time: case_opening.consultation_start_time,
                    same_day: case_opening.same_day,
                    first_steps: outcome.first_steps,
                    self_help_options: outcome.self_help_options,
                    office_offers: outcome.office_offers,
                    capacity_to_work: types::CapacityToWork::from(outcome.capacity_to_work).into(),
                    activation_track: types::ActivationTrack::from(outcome.activation_track).into(),
                    barriers: barrier_numbers(&outcome.barriers),
                };
                opened_event = Some(change.event(opening.case_id, now, &event).await?);
                change.audit(caller, "case", &[opening.case_id.0]).await?;
                opened_same_day = Some(opening.same_day);
                Ok(pb::OpenCaseResponse {
                    case_opening: Some(case_opening),
                    // Known after the commit (below); a replay answers without it.
                    feed_position: 0,
                })
            })
            .await?;
        if let Some(same_day) = opened_same_day {
            metrics::counter!("intake_cases_opened_total", "same_day" => same_day.to_string())
                .increment(1);
        }
        // Stamped by this process's sequencer right after the commit; a replayed answer has no
        // event of its own and gives 0 (documented).
        let mut answer = answer;
        if let Some(event) = opened_event {
            // Stamped after the commit by this process's sequencer: normally milliseconds.
            answer.feed_position = self
                .changes
                .feed_position(event, FEED_POSITION_WAIT)
                .await?
                .unwrap_or(0);
        }
        Ok(answer)
    }

    /// GetTeamFigures: visits, consultations, the same-day rate, waits and caseloads of the
    /// caller's team over up to 366 office days (audited: it names advisors).
    pub(super) async fn get_team_figures(
        &self,
        caller: &Caller,
        request: pb::GetTeamFiguresRequest,
    ) -> Result<pb::GetTeamFiguresResponse, ApiError> {
        let mut v = Violations::new();
        let team = v.check("team_id", wire::id(&request.team_id)).map(TeamId);
        let start = v.check("start_date", wire::date(request.start_date.as_ref()));
        let end = v.check("end_date", wire::date(request.end_date.as_ref()));
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                v.add("end_date", "must not be before start_date");
            } else if e - s > Duration::days(366) {
                v.add("end_date", "must be at most 366 days after start_date");
            }
        }
        let (team, (start, end)) = v.finish(team.zip(start.zip(end)))?;
        caller.same_team(team, "team", team)?;
        let mut read = self.changes.read().await?;
        let figures = store::cases::team_figures(read.conn(), team, start, end).await?;
        let arrivals = store::cases::arrivals(read.conn(), team, start, end).await?;
        // Every advisor of the team: the figures cover the whole roster.
        let advisors = roster::advisors_of_team(read.conn(), team, None, i64::MAX).await?;
        let ids: Vec<_> = advisors.iter().map(|a| a.id.0).collect();
        read.audit(caller, "advisor", &ids).await?;
        // Over everyone who needed a consultation: who left unseen counts against the promise.
        let rate = if arrivals.needing > 0 {
            arrivals.consulted_same_day as f64 / arrivals.needing as f64
        } else {
            0.0
        };
        let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(pb::GetTeamFiguresResponse {
            visits: figures.visits as i32,
            consultations: figures.consultations as i32,
            same_day_consultations: figures.same_day as i32,
            same_day_rate: rate,
            median_wait_minutes: arrivals.median_wait_minutes.unwrap_or(0.0),
            p90_wait_minutes: arrivals.p90_wait_minutes.unwrap_or(0.0),
            caseloads: advisors
                .into_iter()
                .map(|a| pb::AdvisorCaseload {
                    advisor_id: a.id.to_string(),
                    display_name: a.display_name,
                    open_cases: a.open_cases as i32,
                    capacity: a.capacity,
                })
                .collect(),
            arrivals_needing_consultation: count(arrivals.needing),
            consulted_same_day: count(arrivals.consulted_same_day),
            consulted_later: count(arrivals.consulted_later),
            left_unseen: count(arrivals.left_unseen),
            sent_elsewhere: count(arrivals.sent_elsewhere),
        })
    }
}

/// The assignment asked for; unset means the consulting advisor (continuity).
fn assignment(value: i32) -> Result<Assignment, String> {
    match pb::AdvisorAssignment::try_from(value) {
        Ok(pb::AdvisorAssignment::Unspecified) => Ok(Assignment::ConsultingAdvisor),
        Ok(known) => {
            Assignment::try_from(known).map_err(|()| "must be one of the enum's values".into())
        }
        Err(_) => Err("must be one of the enum's values".into()),
    }
}

/// FAILED_PRECONDITION `CASE_ALREADY_OPEN` with the case opened from the consultation in
/// `case_id`.
fn case_already_open(opened: CaseId) -> ApiError {
    ApiError::FailedPrecondition {
        reason: pb::ErrorReason::CaseAlreadyOpen.into(),
        message: format!("case {opened} was already opened from this consultation"),
        metadata: [("case_id".to_owned(), opened.to_string())].into(),
    }
}

/// FAILED_PRECONDITION `CLIENT_HAS_OPEN_CASE` with the open case's id in `case_id`.
fn client_has_open_case(open: CaseId) -> ApiError {
    ApiError::FailedPrecondition {
        reason: pb::ErrorReason::ClientHasOpenCase.into(),
        message: format!(
            "the client has an open case ({open}); their responsible advisor carries it on"
        ),
        metadata: [("case_id".to_owned(), open.to_string())].into(),
    }
}
