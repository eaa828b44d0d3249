//! Cases: read one, list the caller's or the team's, set the legal basis, close.

use fallwerk_platform::{
    ApiError, Violations,
    auth::{Caller, Role},
    change::Change,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    vocabulary::{LegalBasis, barrier_numbers},
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::{caseplan as pb, types};

use super::{CasePlan, agreements::end_in_force, team_case};
use crate::{
    domain::{
        self, AdvisorId, CaseId, CaseOutcome, CaseState, Closure, ClosureProblem, FollowUpResult,
        StateError, TeamId, TimelineKind,
    },
    store::{self, cases::CaseRow},
};

impl CasePlan {
    /// GetCase: one case of the caller's team (audited: it holds the client's data).
    pub(super) async fn get_case(
        &self,
        caller: &Caller,
        request: pb::GetCaseRequest,
    ) -> Result<pb::GetCaseResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let position = v.check(
            "min_intake_position",
            feed_position(request.min_intake_position),
        );
        let (id, position) = v.finish(id.zip(position))?;
        self.caught_up_with_intake(position).await?;
        let mut read = self.changes.read().await?;
        let case = team_case(read.conn(), caller, id, false).await?;
        read.audit(caller, "case", &[id.0]).await?;
        Ok(pb::GetCaseResponse {
            case: Some(case.into()),
        })
    }

    /// ListCases: the caller's cases or the team's, most urgent first (audited: every case
    /// shown).
    pub(super) async fn list_cases(
        &self,
        caller: &Caller,
        request: pb::ListCasesRequest,
    ) -> Result<pb::ListCasesResponse, ApiError> {
        let mut v = Violations::new();
        let scope = v.check("scope", scope(request.scope));
        let state = v.check("state", optional_state(request.state));
        let position = v.check(
            "min_intake_position",
            feed_position(request.min_intake_position),
        );
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
        // A bad position was refused by `finish` above.
        self.caught_up_with_intake(position.unwrap_or_default())
            .await?;

        let mut read = self.changes.read().await?;
        let responsible = match scope {
            pb::CaseScope::Team => None,
            _ => match store::advisors::by_subject(read.conn(), &caller.subject).await? {
                Some(advisor) => Some(advisor),
                // Not in the roster: no case is theirs.
                None => return Ok(pb::ListCasesResponse::default()),
            },
        };
        let after = page.after_rank.zip(page.after);
        let rows = store::cases::list(
            read.conn(),
            team,
            responsible,
            state,
            after,
            page.fetch_limit(),
        )
        .await?;
        let (rows, next_page_token) = page.finish_ranked(rows, CaseRow::urgency_key);
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
                let summary = format!("Rechtsgrundlage: {}", basis_name(basis));
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::LegalBasisSet,
                    now,
                    &caller.subject,
                    "",
                    &summary,
                )
                .await?;
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
                end_in_force(change, &case, now).await?;
                store::cases::close(change.conn(), id, &closure, now, &caller.subject).await?;
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::Closed,
                    now,
                    &caller.subject,
                    "",
                    &format!("Fall abgeschlossen: {}", outcome_name(closure.outcome)),
                )
                .await?;
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

impl CasePlan {
    /// RecordFollowUp: whether the effect of a closed case lasted.
    pub(super) async fn record_follow_up(
        &self,
        caller: &Caller,
        request: pb::RecordFollowUpRequest,
    ) -> Result<pb::RecordFollowUpResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let follow_up =
            wire::required(&mut v, "follow_up", request.follow_up.as_ref()).and_then(|f| {
                let result = v.check(
                    "follow_up.result",
                    wire::enum_value::<pb::FollowUpResult, FollowUpResult>(f.result),
                );
                let note = v.check("follow_up.note", wire::optional_text(&f.note, 2000));
                Some((result?, note?))
            });
        let (id, etag, (result, note)) = v.finish(
            id.zip(etag)
                .zip(follow_up)
                .map(|((id, etag), follow_up)| (id, etag, follow_up)),
        )?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.must_be_closed()?;
                if case.closure.as_ref().is_some_and(|c| c.follow_up.is_some()) {
                    return Err(StateError::FollowUpRecorded.into());
                }
                if case.version != etag {
                    return Err(ApiError::stale("case", id));
                }
                let now = self.clock.now();
                store::cases::follow_up(change.conn(), id, result, &note, now, &caller.subject)
                    .await?;
                let event = pb::FollowUpRecorded {
                    case_id: id.to_string(),
                    result: pb::FollowUpResult::from(result).into(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                let summary = match result {
                    FollowUpResult::Lasting => "Nachbetreuung: Wirkung hält an",
                    FollowUpResult::NotLasting => "Nachbetreuung: Wirkung hielt nicht an",
                    FollowUpResult::Unreachable => "Nachbetreuung: nicht erreicht",
                };
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::FollowedUp,
                    now,
                    &caller.subject,
                    "",
                    summary,
                )
                .await?;
                change.audit(caller, "case", &[id.0]).await?;
                Ok(pb::RecordFollowUpResponse {
                    case: Some(reread(change, id).await?.into()),
                })
            })
            .await
    }

    /// ReopenCase: a closed case is worked on again (intake counts it open again).
    pub(super) async fn reopen_case(
        &self,
        caller: &Caller,
        request: pb::ReopenCaseRequest,
    ) -> Result<pb::ReopenCaseResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let reason = v.check("reason", wire::required_text(&request.reason, 2000));
        let (id, etag, reason) = v.finish(
            id.zip(etag)
                .zip(reason)
                .map(|((id, etag), reason)| (id, etag, reason)),
        )?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.must_be_closed()?;
                if case.version != etag {
                    return Err(ApiError::stale("case", id));
                }
                if let Some(open) =
                    store::cases::other_open_case(change.conn(), case.applicant_id, id).await?
                {
                    return Err(ApiError::FailedPrecondition {
                        reason: pb::ErrorReason::ClientHasOpenCase.into(),
                        message: format!("the client has another open case ({open})"),
                        metadata: [("case_id".to_owned(), open.to_string())].into(),
                    });
                }
                let now = self.clock.now();
                let plan =
                    store::plans::list(change.conn(), id, Some(case.plan_revision + 1), 1).await?;
                let next_due = plan.first().and_then(|r| domain::next_due_date(&r.goals));
                store::cases::reopen(change.conn(), id, next_due, now).await?;
                let event = pb::CaseReopened {
                    case_id: id.to_string(),
                    team_id: case.team_id.to_string(),
                    responsible_advisor_id: case.responsible_advisor_id.to_string(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::Reopened,
                    now,
                    &caller.subject,
                    "",
                    &format!("Fall wieder eröffnet: {reason}"),
                )
                .await?;
                change.audit(caller, "case", &[id.0]).await?;
                Ok(pb::ReopenCaseResponse {
                    case: Some(reread(change, id).await?.into()),
                })
            })
            .await
    }

    /// SetLegalHold: the team lead keeps a case past its retention period, or lets it go.
    pub(super) async fn set_legal_hold(
        &self,
        caller: &Caller,
        request: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let reason = if request.hold {
            v.check("reason", wire::required_text(&request.reason, 2000))
                .map(Some)
        } else if request.reason.is_empty() {
            Some(None)
        } else {
            v.add("reason", "must be empty when the hold is released");
            None
        };
        let (id, etag, reason) = v.finish(
            id.zip(etag)
                .zip(reason)
                .map(|((id, etag), reason)| (id, etag, reason)),
        )?;

        self.changes
            .update(async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                if case.version != etag {
                    return Err(ApiError::stale("case", id));
                }
                let now = self.clock.now();
                store::cases::set_legal_hold(
                    change.conn(),
                    id,
                    reason.as_deref(),
                    &caller.subject,
                    now,
                )
                .await?;
                change.audit(caller, "case", &[id.0]).await?;
                tracing::info!(case_id = %id, held = reason.is_some(), "legal hold set");
                Ok(pb::SetLegalHoldResponse {
                    case: Some(reread(change, id).await?.into()),
                })
            })
            .await
    }

    /// ReassignCase: another active advisor of the team takes the case over.
    pub(super) async fn reassign_case(
        &self,
        caller: &Caller,
        request: pb::ReassignCaseRequest,
    ) -> Result<pb::ReassignCaseResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let advisor = v
            .check("advisor_id", wire::id(&request.advisor_id))
            .map(AdvisorId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let reason = v.check("reason", wire::required_text(&request.reason, 2000));
        let (id, advisor, etag, reason) = v.finish(
            id.zip(advisor)
                .zip(etag)
                .zip(reason)
                .map(|(((id, advisor), etag), reason)| (id, advisor, etag, reason)),
        )?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                // An advisor hands over only their own cases; the team lead reassigns any.
                if !caller.has(Role::TeamLead) {
                    let me = store::advisors::by_subject(change.conn(), &caller.subject).await?;
                    if me != Some(case.responsible_advisor_id) {
                        return Err(ApiError::PermissionDenied(
                            "only the responsible advisor or the team lead reassigns a case".into(),
                        ));
                    }
                }
                case.state.may_change()?;
                if case.version != etag {
                    return Err(ApiError::stale("case", id));
                }
                if advisor == case.responsible_advisor_id {
                    return Err(ApiError::invalid(
                        "advisor_id",
                        "is the case's responsible advisor already",
                    ));
                }
                let target = store::advisors::get(change.conn(), advisor).await?;
                if !target.is_some_and(|a| a.active && a.team_id == case.team_id) {
                    return Err(StateError::AdvisorNotAvailable.into());
                }
                let now = self.clock.now();
                store::cases::reassign(change.conn(), id, advisor, now).await?;
                let event = pb::CaseReassigned {
                    case_id: id.to_string(),
                    team_id: case.team_id.to_string(),
                    from_advisor_id: case.responsible_advisor_id.to_string(),
                    to_advisor_id: advisor.to_string(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                store::timeline::append(
                    change.conn(),
                    id,
                    TimelineKind::Reassigned,
                    now,
                    &caller.subject,
                    &advisor.to_string(),
                    &format!("Fall übergeben: {reason}"),
                )
                .await?;
                change.audit(caller, "case", &[id.0]).await?;
                Ok(pb::ReassignCaseResponse {
                    case: Some(reread(change, id).await?.into()),
                })
            })
            .await
    }
}

async fn reread(change: &mut Change, id: CaseId) -> Result<CaseRow, ApiError> {
    store::cases::get(change.conn(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("case", id))
}

fn basis_name(basis: LegalBasis) -> &'static str {
    match basis {
        LegalBasis::SgbXiiChapter3 => "SGB XII, 3. Kapitel",
        LegalBasis::SgbIi => "SGB II",
        LegalBasis::Other => "andere",
    }
}

fn outcome_name(outcome: CaseOutcome) -> &'static str {
    match outcome {
        CaseOutcome::WorkTakenUp => "Arbeit aufgenommen",
        CaseOutcome::TrainingStarted => "Ausbildung begonnen",
        CaseOutcome::IndependentOfAssistance => "unabhängig von Hilfe",
        CaseOutcome::Transferred => "an andere Behörde abgegeben",
        CaseOutcome::MovedAway => "verzogen",
        CaseOutcome::NoLongerCooperating => "keine Mitwirkung mehr",
        CaseOutcome::Deceased => "verstorben",
        CaseOutcome::Other => "anderer Grund",
    }
}

fn scope(value: i32) -> Result<pb::CaseScope, String> {
    match pb::CaseScope::try_from(value) {
        Ok(pb::CaseScope::Unspecified | pb::CaseScope::Mine) => Ok(pb::CaseScope::Mine),
        Ok(pb::CaseScope::Team) => Ok(pb::CaseScope::Team),
        Err(_) => Err("must be MINE or TEAM".into()),
    }
}

fn feed_position(value: i64) -> Result<i64, String> {
    if value < 0 {
        return Err("must be 0 or a feed position from intake's OpenCase".into());
    }
    Ok(value)
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
                birth_date: Some(c.client.birth_date.to_wire()),
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
                follow_up: closed.follow_up.map(|f| pb::FollowUp {
                    result: pb::FollowUpResult::from(f.result).into(),
                    note: f.note,
                    record_time: Some(timestamp(f.at)),
                    recorded_by: f.by,
                }),
            }),
            etag: c.version.to_string(),
            update_time: Some(timestamp(c.updated_at)),
            next_review_date: c.next_review_date.map(wire_date),
            agreement_id: c.agreement_id.map(|a| a.to_string()).unwrap_or_default(),
            urgency_date: c.urgency_date.map(wire_date),
            legal_hold: c.legal_hold.map(|hold| pb::LegalHold {
                reason: hold.reason,
                placed_by: hold.by,
                place_time: Some(timestamp(hold.at)),
            }),
        }
    }
}
