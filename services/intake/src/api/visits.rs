//! Visits: registration at the desk, the day's queue, a person's history, the access check.

use chrono::NaiveDate;
use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, enum_value, timestamp, wire_date},
};
use fallwerk_proto::intake as pb;

use super::Intake;
use crate::{
    domain::{
        AccessCheck, AccessCheckRule, AccessDecision, ApplicantId, ClaimCheck, TeamId,
        VisitEndReason, VisitId, VisitKind, VisitState,
    },
    store::{
        applicants,
        visits::{self, AccessCheckRecord, NewVisit, VisitRow},
    },
};

impl Intake {
    /// RegisterVisit: a person arrives at the caller's team's desk.
    pub(super) async fn register_visit(
        &self,
        caller: &Caller,
        request: pb::RegisterVisitRequest,
    ) -> Result<pb::RegisterVisitResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let applicant = v
            .check("applicant_id", wire::id(&request.applicant_id))
            .map(ApplicantId);
        let concern = v.check("concern", wire::optional_text(&request.concern, 500));
        let kind = if request.kind == 0 {
            Some(VisitKind::WalkIn)
        } else {
            v.check("kind", enum_value::<pb::VisitKind, _>(request.kind))
        };
        let named = v
            .check("team_id", wire::optional_id(&request.team_id))
            .map(|t| t.map(TeamId));
        let parsed = (|| Some((applicant?, concern?, kind?, named?)))();
        let (applicant, concern, kind, named) = v.finish(parsed)?;
        let team = desk_team(caller, named)?;

        self.changes
            .create(key, async |change| {
                let id = VisitId::generate();
                let now = self.clock.now();
                let visit = NewVisit {
                    id,
                    applicant,
                    team,
                    arrived_at: now,
                    arrival_day: office_day(now),
                    concern: &concern,
                    registered_by: &caller.subject,
                    kind,
                };
                if !visits::insert_if_known(change.conn(), &visit).await? {
                    // Which one is missing, asked only now that one is.
                    return Err(if !applicants::exists(change.conn(), applicant).await? {
                        ApiError::not_found("applicant", applicant)
                    } else {
                        ApiError::precondition(
                            pb::ErrorReason::UnknownTeam,
                            "the caller's team is not in the roster",
                        )
                    });
                }
                let event = pb::VisitRegistered {
                    visit_id: id.to_string(),
                    applicant_id: applicant.to_string(),
                    team_id: team.to_string(),
                    arrive_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "visit", &[id.0]).await?;
                let row = VisitRow {
                    id,
                    applicant_id: applicant,
                    team_id: team,
                    arrived_at: now,
                    concern: concern.clone(),
                    state: VisitState::Waiting,
                    consultation_id: None,
                    end_reason: None,
                    ended_at: None,
                    end_note: None,
                    kind,
                };
                Ok(pb::RegisterVisitResponse {
                    visit: Some(visit_message(row, None)),
                })
            })
            .await
    }

    /// GetVisit: one visit of the caller's team, with its access check (audited).
    pub(super) async fn get_visit(
        &self,
        caller: &Caller,
        request: pb::GetVisitRequest,
    ) -> Result<pb::GetVisitResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", wire::id(&request.id)).map(VisitId);
        let id = v.finish(id)?;
        let mut read = self.changes.read().await?;
        let row = visits::get(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("visit", id))?;
        caller.desk_of(row.team_id, "visit", id)?;
        let mut checks = visits::access_checks(read.conn(), &[id]).await?;
        read.audit(caller, "visit", &[id.0]).await?;
        Ok(pb::GetVisitResponse {
            visit: Some(visit_message(row, checks.remove(&id))),
        })
    }

    /// ListWaitingQueue: today's visits of the caller's team still waiting, emergencies and
    /// interpreter needs first (audited: it shows names).
    pub(super) async fn list_waiting_queue(
        &self,
        caller: &Caller,
        request: pb::ListWaitingQueueRequest,
    ) -> Result<pb::ListWaitingQueueResponse, ApiError> {
        let mut v = Violations::new();
        let named = v.check("team_id", wire::optional_id(&request.team_id));
        let filters = [caller.method, request.team_id.as_str()];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let (named, page) = v.finish(named.zip(page))?;
        let team = desk_team(caller, named.map(TeamId))?;
        let now = self.clock.now();
        let mut read = self.changes.read().await?;
        let rows = visits::waiting_queue(
            read.conn(),
            team,
            office_day(now),
            page.after,
            page.fetch_limit(),
        )
        .await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.visit.id.0);
        let visit_ids: Vec<_> = rows.iter().map(|r| r.visit.id).collect();
        let mut checks = visits::access_checks(read.conn(), &visit_ids).await?;
        let applicants: Vec<_> = rows.iter().map(|r| r.visit.applicant_id.0).collect();
        read.audit(caller, "applicant", &applicants).await?;
        let entries = rows
            .into_iter()
            .map(|r| pb::QueueEntry {
                waiting_minutes: i32::try_from((now - r.visit.arrived_at).num_minutes().max(0))
                    .unwrap_or(i32::MAX),
                given_name: r.given_name,
                family_name: r.family_name,
                emergency_need: r.emergency_need,
                interpreter_language: r.interpreter_language,
                visit: Some({
                    let check = checks.remove(&r.visit.id);
                    visit_message(r.visit, check)
                }),
            })
            .collect();
        Ok(pb::ListWaitingQueueResponse {
            entries,
            next_page_token,
        })
    }

    /// EndVisit: a waiting visit ends without a consultation, with its reason.
    pub(super) async fn end_visit(
        &self,
        caller: &Caller,
        request: pb::EndVisitRequest,
    ) -> Result<pb::EndVisitResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let visit_id = v
            .check("visit_id", wire::id(&request.visit_id))
            .map(VisitId);
        let reason = v.check(
            "reason",
            enum_value::<pb::VisitEndReason, VisitEndReason>(request.reason).and_then(|r| {
                if r == VisitEndReason::LeftUnseen {
                    Err("LEFT_UNSEEN is set by the system at the end of the office day".into())
                } else {
                    Ok(r)
                }
            }),
        );
        let note = v.check("note", wire::optional_text(&request.note, 500));
        if reason == Some(VisitEndReason::NotLocallyResponsible)
            && note.as_deref().is_some_and(str::is_empty)
        {
            v.add("note", "must say where the person was sent (§ 16 SGB I)");
        }
        let parsed = (|| Some((visit_id?, reason?, note?)))();
        let (visit_id, reason, note) = v.finish(parsed)?;

        self.changes
            .create(key, async |change| {
                let visit = visits::lock(change.conn(), visit_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("visit", visit_id))?;
                caller.desk_of(visit.team_id, "visit", visit_id)?;
                let next = visit.state.end()?;
                let now = self.clock.now();
                let note = (!note.is_empty()).then_some(note.as_str());
                visits::end(change.conn(), visit_id, reason, note, now, &caller.subject).await?;
                let event = pb::VisitEnded {
                    visit_id: visit_id.to_string(),
                    team_id: visit.team_id.to_string(),
                    reason: pb::VisitEndReason::from(reason).into(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(visit_id, now, &event).await?;
                change.audit(caller, "visit", &[visit_id.0]).await?;
                let mut checks = visits::access_checks(change.conn(), &[visit_id]).await?;
                let visit = VisitRow {
                    state: next,
                    end_reason: Some(reason),
                    ended_at: Some(now),
                    end_note: note.map(str::to_owned),
                    ..visit
                };
                Ok(pb::EndVisitResponse {
                    visit: Some(visit_message(visit, checks.remove(&visit_id))),
                })
            })
            .await
    }

    /// ListVisits: a person's visits to the caller's team, newest first, paginated (audited).
    pub(super) async fn list_visits(
        &self,
        caller: &Caller,
        request: pb::ListVisitsRequest,
    ) -> Result<pb::ListVisitsResponse, ApiError> {
        // A team's staff see the visits at their team; a central desk those at every team.
        let team = match caller.is_central_desk() {
            true => None,
            false => Some(TeamId(caller.team()?)),
        };
        let mut v = Violations::new();
        let applicant = v
            .check("applicant_id", wire::id(&request.applicant_id))
            .map(ApplicantId);
        let team_filter = team.map(|t| t.to_string()).unwrap_or_default();
        let filters = [caller.method, request.applicant_id.as_str(), &team_filter];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let (applicant, page) = v.finish(applicant.zip(page))?;
        let mut read = self.changes.read().await?;
        let rows =
            visits::of_applicant(read.conn(), applicant, team, page.after, page.fetch_limit())
                .await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
        let mut checks = visits::access_checks(read.conn(), &ids).await?;
        let raw: Vec<_> = ids.iter().map(|i| i.0).collect();
        read.audit(caller, "visit", &raw).await?;
        Ok(pb::ListVisitsResponse {
            visits: rows
                .into_iter()
                .map(|r| {
                    let check = checks.remove(&r.id);
                    visit_message(r, check)
                })
                .collect(),
            next_page_token,
        })
    }

    /// RecordAccessCheck: the priority claims, emergency need and the decision; closes the
    /// visit unless it continues into a consultation.
    pub(super) async fn record_access_check(
        &self,
        caller: &Caller,
        request: pb::RecordAccessCheckRequest,
    ) -> Result<pb::RecordAccessCheckResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let visit_id = v
            .check("visit_id", wire::id(&request.visit_id))
            .map(VisitId);
        let check = wire::required(&mut v, "access_check", request.access_check.as_ref())
            .and_then(|c| access_check(&mut v, c));
        let (visit_id, check) = v.finish(visit_id.zip(check))?;

        self.changes
            .create(key, async |change| {
                let visit = visits::lock(change.conn(), visit_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("visit", visit_id))?;
                caller.desk_of(visit.team_id, "visit", visit_id)?;
                let next = visit.state.after_access_check(check.decision)?;
                let person = applicants::get(change.conn(), visit.applicant_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("applicant", visit.applicant_id))?;
                let (responsibility, _) =
                    applicants::responsibility(change.conn(), &person).await?;
                check.fits(responsibility)?;
                let now = self.clock.now();
                let record = AccessCheckRecord {
                    check,
                    checked_by: caller.subject.clone(),
                    checked_at: now,
                };
                visits::insert_access_check(change.conn(), visit_id, &record).await?;
                let ended = VisitEndReason::of_decision(record.check.decision);
                match ended {
                    Some(reason) => {
                        let forwarded = &record.check.forwarded_to;
                        let note = (!forwarded.is_empty()).then_some(forwarded.as_str());
                        visits::end(change.conn(), visit_id, reason, note, now, &caller.subject)
                            .await?
                    }
                    None => visits::set_state(change.conn(), visit_id, next).await?,
                }
                let event = pb::AccessCheckRecorded {
                    visit_id: visit_id.to_string(),
                    team_id: visit.team_id.to_string(),
                    decision: pb::AccessDecision::from(record.check.decision).into(),
                    emergency_need: record.check.emergency_need,
                    occur_time: Some(timestamp(now)),
                };
                change.event(visit_id, now, &event).await?;
                change.audit(caller, "visit", &[visit_id.0]).await?;
                let visit = VisitRow {
                    state: next,
                    end_reason: ended,
                    ended_at: ended.map(|_| now),
                    end_note: (!record.check.forwarded_to.is_empty())
                        .then(|| record.check.forwarded_to.clone()),
                    ..visit
                };
                Ok(pb::RecordAccessCheckResponse {
                    visit: Some(visit_message(visit, Some(record))),
                })
            })
            .await
    }
}

/// Parses an access check and names every rule of the domain it breaks.
fn access_check(v: &mut Violations, check: &pb::AccessCheck) -> Option<AccessCheck> {
    let mut claims = Vec::new();
    for (i, c) in check.claims.iter().enumerate() {
        let field = format!("access_check.claims[{i}]");
        let claim = v.check(
            &format!("{field}.claim"),
            enum_value::<pb::PriorityClaim, _>(c.claim),
        );
        let outcome = v.check(
            &format!("{field}.outcome"),
            enum_value::<pb::ClaimOutcome, _>(c.outcome),
        );
        let note = v.check(&format!("{field}.note"), wire::optional_text(&c.note, 500));
        if let (Some(claim), Some(outcome), Some(note)) = (claim, outcome, note) {
            claims.push(ClaimCheck {
                claim,
                outcome,
                note,
            });
        }
    }
    let emergency_note = v.check(
        "access_check.emergency_note",
        wire::optional_text(&check.emergency_note, 1000),
    );
    let decision = v.check(
        "access_check.decision",
        enum_value::<pb::AccessDecision, AccessDecision>(check.decision),
    );
    let forwarded_to = v.check(
        "access_check.forwarded_to",
        wire::optional_text(&check.forwarded_to, 200),
    );
    // The rules are checked even when a field is bad, so every broken one is named at once;
    // a bad field stands in with a value that breaks no rule by itself.
    let check = AccessCheck {
        claims,
        emergency_need: check.emergency_need,
        emergency_note: emergency_note.clone().unwrap_or_else(|| "(bad)".into()),
        decision: decision.unwrap_or(AccessDecision::Continue),
        forwarded_to: forwarded_to.clone().unwrap_or_default(),
    };
    for rule in check.broken_rules() {
        match rule {
            AccessCheckRule::ClaimTwice(i) => v.add(
                format!("access_check.claims[{i}].claim"),
                "is checked twice",
            ),
            AccessCheckRule::EmergencyWithoutNote => v.add(
                "access_check.emergency_note",
                "is required when emergency_need is set",
            ),
            AccessCheckRule::PriorityProviderWithoutClaim => v.add(
                "access_check.decision",
                "sending to a priority provider needs a claim found RECEIVED or TO_BE_APPLIED",
            ),
            AccessCheckRule::ForwardedNowhere => v.add(
                "access_check.forwarded_to",
                "is required when the decision is NOT_LOCALLY_RESPONSIBLE",
            ),
            AccessCheckRule::ForwardedWithoutDecision => v.add(
                "access_check.forwarded_to",
                "is only for the decision NOT_LOCALLY_RESPONSIBLE",
            ),
        }
    }
    emergency_note?;
    decision?;
    forwarded_to?;
    v.is_empty().then_some(check)
}

/// A visit with its access check, if any.
fn visit_message(row: VisitRow, check: Option<AccessCheckRecord>) -> pb::Visit {
    pb::Visit {
        id: row.id.to_string(),
        applicant_id: row.applicant_id.to_string(),
        team_id: row.team_id.to_string(),
        arrive_time: Some(timestamp(row.arrived_at)),
        concern: row.concern,
        state: pb::VisitState::from(row.state).into(),
        access_check: check.map(|c| access_check_message(c, office_day(row.arrived_at))),
        consultation_id: row
            .consultation_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
        end_reason: row
            .end_reason
            .map(|r| pb::VisitEndReason::from(r).into())
            .unwrap_or_default(),
        end_time: row.ended_at.map(timestamp),
        end_note: row.end_note.unwrap_or_default(),
        kind: pb::VisitKind::from(row.kind).into(),
    }
}

/// The team a visit is registered with: a team's desk registers with its own team (naming
/// another is NOT_FOUND, as another team's objects are); a central front desk, a front-desk
/// token without a team, with the team it names.
fn desk_team(caller: &Caller, named: Option<TeamId>) -> Result<TeamId, ApiError> {
    match (caller.team_id, named) {
        (Some(own), None) => Ok(TeamId(own)),
        (Some(own), Some(team)) if team.0 == own => Ok(team),
        (Some(_), Some(team)) => Err(ApiError::not_found("team", team)),
        (None, Some(team)) if caller.is_central_desk() => Ok(team),
        (None, _) => Err(ApiError::PermissionDenied(
            "a token without a team works only as a central front desk, naming the team".into(),
        )),
    }
}

fn access_check_message(record: AccessCheckRecord, arrival_day: NaiveDate) -> pb::AccessCheck {
    let check = record.check;
    pb::AccessCheck {
        claims: check
            .claims
            .into_iter()
            .map(|c| pb::ClaimCheck {
                claim: pb::PriorityClaim::from(c.claim).into(),
                outcome: pb::ClaimOutcome::from(c.outcome).into(),
                note: c.note,
            })
            .collect(),
        emergency_need: check.emergency_need,
        emergency_note: check.emergency_note,
        decision: pb::AccessDecision::from(check.decision).into(),
        checked_by: record.checked_by,
        check_time: Some(timestamp(record.checked_at)),
        forwarded_to: check.forwarded_to,
        need_known_date: Some(wire_date(arrival_day)),
    }
}

/// Ends, every few seconds, the visits of past office days that still wait, as left unseen:
/// nobody waits forever, and the same-day rate counts them. Runs until shutdown.
pub(super) async fn end_stale_visits(
    intake: Intake,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let now = intake.clock.now();
        let ended = intake
            .changes
            .update(async |change| {
                let ended = visits::end_stale(change.conn(), office_day(now), now).await?;
                for (visit, team) in &ended {
                    let event = pb::VisitEnded {
                        visit_id: visit.to_string(),
                        team_id: team.to_string(),
                        reason: pb::VisitEndReason::LeftUnseen.into(),
                        occur_time: Some(timestamp(now)),
                    };
                    change.event(*visit, now, &event).await?;
                }
                Ok(ended.len())
            })
            .await;
        match ended {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(visits = n, "visits of past days ended as left unseen");
                metrics::counter!("intake_visits_left_unseen_total").increment(n as u64);
            }
            Err(error) => {
                tracing::warn!(%error, "ending past days' waiting visits failed; retrying")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(STALE_SWEEP) => {}
        }
    }
}

/// How often past days' waiting visits are looked for.
const STALE_SWEEP: std::time::Duration = std::time::Duration::from_secs(2);
