//! First consultations: started by an advisor of the visit's team on a visit ready for it,
//! completed by the same advisor with the outcome.

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    wire::{self, enum_value, timestamp},
};
use fallwerk_proto::{intake as pb, types};

use super::Intake;
use crate::{
    domain::{
        ActivationTrack, CapacityToWork, ConsultationId, ConsultationOutcome, OutcomeRule, VisitId,
        VisitState, is_same_day,
    },
    store::{
        cases,
        consultations::{self, ConsultationRow, NewConsultation},
        roster, visits,
    },
};

impl Intake {
    /// StartConsultation: the caller, an active advisor of the visit's team, starts the first
    /// consultation; whether it is on the day of arrival is decided here, once.
    pub(super) async fn start_consultation(
        &self,
        caller: &Caller,
        request: pb::StartConsultationRequest,
    ) -> Result<pb::StartConsultationResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let visit_id = v
            .check("visit_id", wire::id(&request.visit_id))
            .map(VisitId);
        let visit_id = v.finish(visit_id)?;

        let mut same_day = None;
        let answer = self
            .changes
            .create(key, async |change| {
                let visit = visits::lock(change.conn(), visit_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("visit", visit_id))?;
                caller.same_team(visit.team_id, "visit", visit_id)?;
                let advisor = roster::advisor_by_subject(change.conn(), &caller.subject)
                    .await?
                    .filter(|a| a.active && a.team_id == visit.team_id)
                    .ok_or_else(|| {
                        ApiError::precondition(
                            pb::ErrorReason::NotInRoster,
                            "the caller is not an active advisor of the visit's team",
                        )
                    })?;
                let next = visit.state.start_consultation()?;
                let now = self.clock.now();
                let new = NewConsultation {
                    id: ConsultationId::generate(),
                    visit: &visit,
                    advisor: advisor.id,
                    started_at: now,
                    start_day: office_day(now),
                    same_day: is_same_day(visit.arrived_at, now),
                };
                let row = consultations::insert(change.conn(), &new).await?;
                visits::set_state(change.conn(), visit_id, next).await?;
                let event = pb::ConsultationStarted {
                    consultation_id: row.id.to_string(),
                    visit_id: visit_id.to_string(),
                    team_id: visit.team_id.to_string(),
                    advisor_id: advisor.id.to_string(),
                    start_time: Some(timestamp(now)),
                };
                change.event(row.id, now, &event).await?;
                change.audit(caller, "consultation", &[row.id.0]).await?;
                same_day = Some(row.same_day);
                Ok(pb::StartConsultationResponse {
                    consultation: Some(row.into()),
                })
            })
            .await?;
        // Counted once committed (a replay or a rolled-back start is not a consultation).
        if let Some(same_day) = same_day {
            metrics::counter!("intake_consultations_started_total", "same_day" => same_day.to_string())
                .increment(1);
        }
        Ok(answer)
    }

    /// CompleteConsultation: the consulting advisor records the outcome, once.
    pub(super) async fn complete_consultation(
        &self,
        caller: &Caller,
        request: pb::CompleteConsultationRequest,
    ) -> Result<pb::CompleteConsultationResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("consultation_id", wire::id(&request.consultation_id))
            .map(ConsultationId);
        let outcome = wire::required(&mut v, "outcome", request.outcome.as_ref())
            .and_then(|o| consultation_outcome(&mut v, o));
        let (id, outcome) = v.finish(id.zip(outcome))?;

        self.changes
            .create(key, async |change| {
                let consultation = consultations::lock(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("consultation", id))?;
                caller.same_team(consultation.team_id, "consultation", id)?;
                let advisor = roster::advisor_by_subject(change.conn(), &caller.subject).await?;
                if advisor.map(|a| a.id) != Some(consultation.advisor_id) {
                    return Err(ApiError::PermissionDenied(
                        "only the consulting advisor completes a consultation".into(),
                    ));
                }
                let next = consultation.state.complete()?;
                let now = self.clock.now();
                let row = consultations::complete(change.conn(), id, next, &outcome, now).await?;
                visits::set_state(change.conn(), consultation.visit_id, VisitState::Consulted)
                    .await?;
                let event = pb::ConsultationCompleted {
                    consultation_id: id.to_string(),
                    team_id: consultation.team_id.to_string(),
                    capacity_to_work: types::CapacityToWork::from(outcome.capacity_to_work).into(),
                    activation_track: types::ActivationTrack::from(outcome.activation_track).into(),
                    complete_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "consultation", &[id.0]).await?;
                Ok(pb::CompleteConsultationResponse {
                    consultation: Some(row.into()),
                })
            })
            .await
    }

    /// GetConsultation: one consultation of the caller's team (audited).
    pub(super) async fn get_consultation(
        &self,
        caller: &Caller,
        request: pb::GetConsultationRequest,
    ) -> Result<pb::GetConsultationResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", wire::id(&request.id)).map(ConsultationId);
        let id = v.finish(id)?;
        let mut read = self.changes.read().await?;
        let row = consultations::get(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("consultation", id))?;
        caller.same_team(row.team_id, "consultation", id)?;
        let case = cases::of_consultation(read.conn(), id).await?;
        read.audit(caller, "consultation", &[id.0]).await?;
        Ok(pb::GetConsultationResponse {
            consultation: Some(pb::Consultation {
                case_id: case.map(|c| c.to_string()).unwrap_or_default(),
                ..row.into()
            }),
        })
    }
}

/// Parses an outcome and names every rule of the domain it breaks.
fn consultation_outcome(
    v: &mut Violations,
    o: &pb::ConsultationOutcome,
) -> Option<ConsultationOutcome> {
    let first_steps = wire::text_list(v, "outcome.first_steps", &o.first_steps, 50, 500);
    let self_help_options = wire::text_list(
        v,
        "outcome.self_help_options",
        &o.self_help_options,
        50,
        500,
    );
    let office_offers = wire::text_list(v, "outcome.office_offers", &o.office_offers, 50, 500);
    let capacity = v.check(
        "outcome.capacity_to_work",
        enum_value::<types::CapacityToWork, _>(o.capacity_to_work),
    );
    let track = v.check(
        "outcome.activation_track",
        enum_value::<types::ActivationTrack, _>(o.activation_track),
    );
    // Unset is allowed here; whether it may be is the domain's rule (named below).
    let basis = if o.capacity_basis == 0 {
        Some(None)
    } else {
        v.check(
            "outcome.capacity_basis",
            enum_value::<types::CapacityBasis, _>(o.capacity_basis),
        )
        .map(Some)
    };
    let mut barriers = Vec::with_capacity(o.barriers.len());
    let mut barriers_ok = true;
    for (i, b) in o.barriers.iter().enumerate() {
        match v.check(
            &format!("outcome.barriers[{i}]"),
            enum_value::<types::Barrier, _>(*b),
        ) {
            Some(b) => barriers.push(b),
            None => barriers_ok = false,
        }
    }
    let notes = v.check("outcome.notes", wire::optional_text(&o.notes, 4000));
    // The rules are checked even when a field is bad, so every broken one is named at once;
    // a bad field stands in with a value that breaks no rule by itself.
    let outcome = ConsultationOutcome {
        first_steps,
        self_help_options,
        office_offers,
        capacity_to_work: capacity.unwrap_or(CapacityToWork::NotYetDetermined),
        capacity_basis: basis.flatten(),
        activation_track: track.unwrap_or(ActivationTrack::WithSupport),
        barriers,
        notes: notes.unwrap_or_default(),
    };
    for rule in outcome.broken_rules() {
        match rule {
            OutcomeRule::NoFirstStep => {
                if o.first_steps.is_empty() {
                    v.add("outcome.first_steps", "must name at least one first step");
                }
            }
            OutcomeRule::PlacementWithoutCapacity => v.add(
                "outcome.activation_track",
                "job placement now needs a capacity to work of FULL or PARTIAL",
            ),
            OutcomeRule::BarrierTwice(i) if barriers_ok => {
                v.add(format!("outcome.barriers[{i}]"), "is listed twice")
            }
            OutcomeRule::BarrierTwice(_) => {}
            OutcomeRule::CapacityWithoutBasis if basis.is_some() => v.add(
                "outcome.capacity_basis",
                "is required for an assessed capacity to work (self report, medical service or pension insurance)",
            ),
            OutcomeRule::CapacityWithoutBasis => {}
        }
    }
    (capacity.is_some() && track.is_some() && basis.is_some() && v.is_empty()).then_some(outcome)
}

fn barriers(outcome: &ConsultationOutcome) -> Vec<i32> {
    outcome
        .barriers
        .iter()
        .map(|b| types::Barrier::from(*b).into())
        .collect()
}

impl From<ConsultationRow> for pb::Consultation {
    fn from(row: ConsultationRow) -> Self {
        pb::Consultation {
            id: row.id.to_string(),
            visit_id: row.visit_id.to_string(),
            applicant_id: row.applicant_id.to_string(),
            team_id: row.team_id.to_string(),
            advisor_id: row.advisor_id.to_string(),
            state: pb::ConsultationState::from(row.state).into(),
            start_time: Some(timestamp(row.started_at)),
            complete_time: row.completed_at.map(timestamp),
            // Set by GetConsultation, which reads the case opening beside the row.
            case_id: String::new(),
            outcome: row.outcome.map(|o| pb::ConsultationOutcome {
                capacity_to_work: types::CapacityToWork::from(o.capacity_to_work).into(),
                capacity_basis: o
                    .capacity_basis
                    .map(|b| types::CapacityBasis::from(b).into())
                    .unwrap_or_default(),
                activation_track: types::ActivationTrack::from(o.activation_track).into(),
                barriers: barriers(&o),
                first_steps: o.first_steps,
                self_help_options: o.self_help_options,
                office_offers: o.office_offers,
                notes: o.notes,
            }),
        }
    }
}
