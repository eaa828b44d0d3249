//! Cases: read one, list the caller's or the team's, set the legal basis, close.

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    vocabulary::{LegalBasis, barrier_numbers},
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::{caseplan as pb, types};

use super::{CasePlan, team_case};
use crate::{
    domain::{CaseId, CaseOutcome, CaseState, Closure, ClosureProblem, TeamId},
    store::{self, cases::CaseRow},
};

impl CasePlan {
    /// GetCase: one case of the caller's team (audited: it holds the client's data).
    pub(super) async fn get_case(
        &self,
        caller: &Caller,
        request: pb::GetCaseRequest,
    ) -> Result<pb::GetCaseResponse, ApiError> {
        let id = CaseId(wire::id(&request.case_id).map_err(|e| ApiError::invalid("case_id", e))?);
        let mut read = self.changes.read().await?;
        let case = team_case(read.conn(), caller, id, false).await?;
        read.audit(caller, "case", &[id.0]).await?;
        Ok(pb::GetCaseResponse {
            case: Some(case.into()),
        })
    }

    /// ListCases: the caller's cases or the team's, in opening order (audited: every case
    /// shown).
    pub(super) async fn list_cases(
        &self,
        caller: &Caller,
        request: pb::ListCasesRequest,
    ) -> Result<pb::ListCasesResponse, ApiError> {
        let mut v = Violations::new();
        let scope = v.check("scope", scope(request.scope));
        let state = v.check("state", optional_state(request.state));
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[
                caller.method,
                &request.scope.to_string(),
                &request.state.to_string(),
            ],
        );
        let (scope, state, page) =
            v.finish(scope.zip(state).zip(page).map(|((a, b), c)| (a, b, c)))?;
        let team = TeamId(caller.team()?);

        let mut read = self.changes.read().await?;
        let responsible = match scope {
            pb::CaseScope::Team => None,
            _ => match store::advisors::by_subject(read.conn(), &caller.subject).await? {
                Some(advisor) => Some(advisor),
                // Not in the roster: no case is theirs.
                None => return Ok(pb::ListCasesResponse::default()),
            },
        };
        let rows = store::cases::list(
            read.conn(),
            team,
            responsible,
            state,
            page.after,
            page.fetch_limit(),
        )
        .await?;
        let (rows, next_page_token) = page.finish(rows, |c| c.id.0);
        let ids: Vec<_> = rows.iter().map(|c| c.id.0).collect();
        read.audit(caller, "case", &ids).await?;
        Ok(pb::ListCasesResponse {
            cases: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    /// UpdateCase: sets the case's legal basis (the only field changed directly).
    pub(super) async fn update_case(
        &self,
        caller: &Caller,
        request: pb::UpdateCaseRequest,
    ) -> Result<pb::UpdateCaseResponse, ApiError> {
        let mut v = Violations::new();
        let case = wire::required(&mut v, "case", request.case.as_ref());
        let _ = wire::update_mask(&mut v, request.update_mask.as_ref(), &["legal_basis"]);
        let parsed = case.and_then(|case| {
            let id = v.check("case.id", wire::id(&case.id)).map(CaseId);
            let etag = v.check("case.etag", wire::etag(&case.etag));
            let basis = v.check(
                "case.legal_basis",
                wire::enum_value::<types::LegalBasis, LegalBasis>(case.legal_basis),
            );
            Some((id?, etag?, basis?))
        });
        let (id, etag, basis) = v.finish(parsed)?;

        self.changes
            .update(async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.may_change()?;
                if case.version != etag {
                    return Err(ApiError::stale("case", id));
                }
                let now = self.clock.now();
                store::cases::set_legal_basis(change.conn(), id, basis, now).await?;
                let event = pb::LegalBasisChanged {
                    case_id: id.to_string(),
                    legal_basis: types::LegalBasis::from(basis).into(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "case", &[id.0]).await?;
                let case = store::cases::get(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("case", id))?;
                Ok(pb::UpdateCaseResponse {
                    case: Some(case.into()),
                })
            })
            .await
    }

    /// CloseCase: closes the case with its outcome and follow-up date; intake learns of it from
    /// the `CaseClosed` event.
    pub(super) async fn close_case(
        &self,
        caller: &Caller,
        request: pb::CloseCaseRequest,
    ) -> Result<pb::CloseCaseResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let closure = wire::required(&mut v, "closure", request.closure.as_ref())
            .and_then(|c| closure(&mut v, c, office_day(self.clock.now())));
        let (id, etag, closure) = v.finish(
            id.zip(etag)
                .zip(closure)
                .map(|((id, etag), closure)| (id, etag, closure)),
        )?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.may_change()?;
                if case.version != etag {
                    return Err(ApiError::stale("case", id));
                }
                let now = self.clock.now();
                store::cases::close(change.conn(), id, &closure, now, &caller.subject).await?;
                let event = pb::CaseClosed {
                    case_id: id.to_string(),
                    team_id: case.team_id.to_string(),
                    responsible_advisor_id: case.responsible_advisor_id.to_string(),
                    outcome: pb::CaseOutcome::from(closure.outcome).into(),
                    close_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "case", &[id.0]).await?;
                let case = store::cases::get(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("case", id))?;
                metrics::counter!("caseplan_cases_closed_total", "outcome" => closure.outcome.as_str())
                    .increment(1);
                Ok(pb::CloseCaseResponse {
                    case: Some(case.into()),
                })
            })
            .await
    }
}

fn scope(value: i32) -> Result<pb::CaseScope, String> {
    match pb::CaseScope::try_from(value) {
        Ok(pb::CaseScope::Unspecified | pb::CaseScope::Mine) => Ok(pb::CaseScope::Mine),
        Ok(pb::CaseScope::Team) => Ok(pb::CaseScope::Team),
        Err(_) => Err("must be MINE or TEAM".into()),
    }
}

fn optional_state(value: i32) -> Result<Option<CaseState>, String> {
    if value == 0 {
        return Ok(None);
    }
    wire::enum_value::<pb::CaseState, CaseState>(value).map(Some)
}

/// Parses a closure; its rules against `today` (the office day of closing) name their fields.
fn closure(v: &mut Violations, c: &pb::Closure, today: chrono::NaiveDate) -> Option<Closure> {
    let outcome = v.check(
        "closure.outcome",
        wire::enum_value::<pb::CaseOutcome, CaseOutcome>(c.outcome),
    );
    let note = v.check("closure.note", wire::optional_text(&c.note, 2000));
    let follow_up = v.check(
        "closure.follow_up_date",
        wire::date(c.follow_up_date.as_ref()),
    );
    let closure = Closure {
        outcome: outcome?,
        note: note?,
        follow_up_date: follow_up?,
    };
    let mut ok = true;
    for problem in closure.problems(today) {
        ok = false;
        match problem {
            ClosureProblem::FollowUpNotAfterClosing => v.add(
                "closure.follow_up_date",
                "must be after the day of closing (Europe/Berlin)",
            ),
            ClosureProblem::OtherWithoutNote => {
                v.add("closure.note", "is required when the outcome is OTHER")
            }
        }
    }
    ok.then_some(closure)
}

impl From<CaseRow> for pb::Case {
    fn from(c: CaseRow) -> Self {
        let f = c.consultation;
        pb::Case {
            id: c.id.to_string(),
            applicant_id: c.applicant_id.to_string(),
            team_id: c.team_id.to_string(),
            responsible_advisor_id: c.responsible_advisor_id.to_string(),
            state: pb::CaseState::from(c.state).into(),
            client: Some(pb::Client {
                display_name: c.client.display_name,
                birth_date: Some(wire_date(c.client.birth_date)),
                interpreter_language: c.client.interpreter_language,
                single_parent: c.client.single_parent,
                youngest_child_age: c
                    .client
                    .youngest_child_age
                    .and_then(|age| u32::try_from(age).ok()),
            }),
            first_consultation: Some(pb::FirstConsultation {
                consultation_id: f.consultation_id.to_string(),
                consulting_advisor_id: f.consulting_advisor_id.to_string(),
                start_time: Some(timestamp(f.started_at)),
                same_day: f.same_day,
                first_steps: f.first_steps,
                self_help_options: f.self_help_options,
                office_offers: f.office_offers,
                capacity_to_work: types::CapacityToWork::from(f.capacity_to_work).into(),
                activation_track: types::ActivationTrack::from(f.activation_track).into(),
                barriers: barrier_numbers(&f.barriers),
            }),
            legal_basis: c
                .legal_basis
                .map(|b| types::LegalBasis::from(b).into())
                .unwrap_or_default(),
            open_time: Some(timestamp(c.opened_at)),
            plan_revision: c.plan_revision,
            next_due_date: c.next_due_date.map(wire_date),
            closure: c.closure.map(|closed| pb::Closure {
                outcome: pb::CaseOutcome::from(closed.closure.outcome).into(),
                note: closed.closure.note,
                follow_up_date: Some(wire_date(closed.closure.follow_up_date)),
                close_time: Some(timestamp(closed.closed_at)),
                closed_by: closed.closed_by,
            }),
            etag: c.version.to_string(),
            update_time: Some(timestamp(c.updated_at)),
        }
    }
}
