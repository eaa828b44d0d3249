//! Help agreements in the legal form of the case: drafted on a plan revision, changed while a
//! draft, proposed, and superseded by the next; the client's answers (comments, agreement,
//! decline, dispute) are in [`answers`].

use chrono::{DateTime, NaiveDate, Utc};
use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    change::Change,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::caseplan as pb;

mod answers;

use super::{CasePlan, team_case};
use crate::{
    domain::{
        AgreementForm, AgreementId, AgreementState, AgreementStatus, CaseId, StateError,
        TimelineKind,
    },
    store::{
        self,
        agreements::{AgreementRow, Draft, NewAgreement},
        cases::CaseRow,
    },
};

/// Longest agreement text.
const MAX_TEXT: usize = 10_000;
/// Longest comment, objection, resolution or reason.
const MAX_NOTE: usize = 4_000;

impl CasePlan {
    /// CreateAgreement: a draft on the current plan revision, in the case's legal form.
    pub(super) async fn create_agreement(
        &self,
        caller: &Caller,
        request: pb::CreateAgreementRequest,
    ) -> Result<pb::CreateAgreementResponse, ApiError> {
        let today = office_day(self.clock.now());
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let draft = wire::required(&mut v, "agreement", request.agreement.as_ref())
            .and_then(|a| draft(&mut v, a, today));
        let (id, draft) = v.finish(id.zip(draft))?;

        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, id, true).await?;
                case.state.may_change()?;
                let basis = case.legal_basis.ok_or(StateError::LegalBasisRequired)?;
                if case.plan_revision == 0 {
                    return Err(StateError::PlanRequired.into());
                }
                let form = AgreementForm::of(basis);
                check_review_limit(form, draft.review_date, today)?;
                let now = self.clock.now();
                let agreement = AgreementId::generate();
                let new = NewAgreement {
                    id: agreement,
                    case: id,
                    plan_revision: case.plan_revision,
                    form,
                    draft: &draft,
                    supersedes: case.agreement_id,
                    at: now,
                };
                if !store::agreements::insert(change.conn(), &new).await? {
                    return Err(StateError::AgreementInProgress.into());
                }
                let summary = format!(
                    "Vereinbarung entworfen ({}, auf Revision {})",
                    form_name(form),
                    case.plan_revision
                );
                let row = record(
                    change,
                    caller,
                    &case,
                    agreement,
                    TimelineKind::AgreementDrafted,
                    &summary,
                    now,
                )
                .await?;
                Ok(pb::CreateAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }

    /// GetAgreement: one agreement of a case of the caller's team (audited).
    pub(super) async fn get_agreement(
        &self,
        caller: &Caller,
        request: pb::GetAgreementRequest,
    ) -> Result<pb::GetAgreementResponse, ApiError> {
        let id = AgreementId(
            wire::id(&request.agreement_id).map_err(|e| ApiError::invalid("agreement_id", e))?,
        );
        let mut read = self.changes.read().await?;
        let agreement = store::agreements::get(read.conn(), id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("agreement", id))?;
        team_case(read.conn(), caller, agreement.case_id, false)
            .await
            .map_err(|_| ApiError::not_found("agreement", id))?;
        read.audit(caller, "agreement", &[id.0]).await?;
        Ok(pb::GetAgreementResponse {
            agreement: Some(agreement_to_wire(agreement, office_day(self.clock.now()))),
        })
    }

    /// ListAgreements: a case's agreements, newest first (audited).
    pub(super) async fn list_agreements(
        &self,
        caller: &Caller,
        request: pb::ListAgreementsRequest,
    ) -> Result<pb::ListAgreementsResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[caller.method, &request.case_id],
        );
        let (id, page) = v.finish(id.zip(page))?;
        let mut read = self.changes.read().await?;
        team_case(read.conn(), caller, id, false).await?;
        let rows = store::agreements::list(read.conn(), id, page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |a| a.id.0);
        let ids: Vec<_> = rows.iter().map(|a| a.id.0).collect();
        read.audit(caller, "agreement", &ids).await?;
        let today = office_day(self.clock.now());
        Ok(pb::ListAgreementsResponse {
            agreements: rows
                .into_iter()
                .map(|a| agreement_to_wire(a, today))
                .collect(),
            next_page_token,
        })
    }

    /// UpdateAgreement: changes a draft's text or dates.
    pub(super) async fn update_agreement(
        &self,
        caller: &Caller,
        request: pb::UpdateAgreementRequest,
    ) -> Result<pb::UpdateAgreementResponse, ApiError> {
        const FIELDS: &[&str] = &["text", "review_date", "start_date", "end_date"];
        let today = office_day(self.clock.now());
        let mut v = Violations::new();
        let paths = wire::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let named = |f: &str| paths.iter().any(|p| p == f);
        let parsed =
            wire::required(&mut v, "agreement", request.agreement.as_ref()).and_then(|a| {
                let id = v.check("agreement.id", wire::id(&a.id)).map(AgreementId);
                let etag = v.check("agreement.etag", wire::etag(&a.etag));
                let text = named("text")
                    .then(|| v.check("agreement.text", wire::required_text(&a.text, MAX_TEXT)));
                let review = named("review_date").then(|| {
                    v.check(
                        "agreement.review_date",
                        not_past(wire::date(a.review_date.as_ref()), today),
                    )
                });
                let start = named("start_date").then(|| {
                    v.check(
                        "agreement.start_date",
                        wire::optional_date(a.start_date.as_ref()),
                    )
                });
                let end = named("end_date").then(|| {
                    v.check(
                        "agreement.end_date",
                        wire::optional_date(a.end_date.as_ref()),
                    )
                });
                Some((id?, etag?, text, review, start, end))
            });
        let (id, etag, text, review, start, end) = v.finish(parsed)?;

        self.changes
            .update(async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                case.state.may_change()?;
                current.state.may_edit()?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                // A field named in the mask whose value failed to parse was refused above.
                let draft = Draft {
                    text: text.flatten().unwrap_or(current.text.clone()),
                    review_date: review.flatten().unwrap_or(current.review_date),
                    start_date: start.flatten().unwrap_or(current.start_date),
                    end_date: end.flatten().unwrap_or(current.end_date),
                };
                if let (Some(start), Some(end)) = (draft.start_date, draft.end_date)
                    && end < start
                {
                    return Err(ApiError::invalid(
                        "agreement.end_date",
                        "must not be before start_date",
                    ));
                }
                check_review_limit(current.form, draft.review_date, today)?;
                let now = self.clock.now();
                store::agreements::update_draft(change.conn(), id, &draft, now).await?;
                change.audit(caller, "agreement", &[id.0]).await?;
                let row = reread(change, id).await?;
                Ok(pb::UpdateAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }

    /// ProposeAgreement: a draft goes to the client (after approval where the team asks).
    pub(super) async fn propose_agreement(
        &self,
        caller: &Caller,
        request: pb::ProposeAgreementRequest,
    ) -> Result<pb::ProposeAgreementResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("agreement_id", wire::id(&request.agreement_id))
            .map(AgreementId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let (id, etag) = v.finish(id.zip(etag))?;
        let today = office_day(self.clock.now());
        self.changes
            .create(key, async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                case.state.may_change()?;
                let next = current.state.propose()?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                let settings = store::teams::settings(change.conn(), case.team_id).await?;
                if settings.plan_approval_required {
                    let revision = store::plans::list(
                        change.conn(),
                        case.id,
                        Some(current.plan_revision + 1),
                        1,
                    )
                    .await?;
                    if revision.first().is_none_or(|r| r.approved.is_none()) {
                        return Err(StateError::RevisionNotApproved.into());
                    }
                }
                let now = self.clock.now();
                store::agreements::set_state(change.conn(), id, next, now).await?;
                let row = record(
                    change,
                    caller,
                    &case,
                    id,
                    TimelineKind::AgreementProposed,
                    "Vereinbarung vorgeschlagen",
                    now,
                )
                .await?;
                Ok(pb::ProposeAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }
}

/// Ends the agreement in force of a case that closes.
pub(super) async fn end_in_force(
    change: &mut Change,
    case: &CaseRow,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(agreement) = case.agreement_id {
        store::agreements::set_state(change.conn(), agreement, AgreementState::Ended, now).await?;
        store::cases::set_agreement(change.conn(), case.id, None, None, now).await?;
    }
    Ok(())
}

/// The agreement `id` with its case, locked, if the case is the caller's team's; NOT_FOUND
/// otherwise.
async fn agreement_of_team(
    change: &mut Change,
    caller: &Caller,
    id: AgreementId,
) -> Result<(CaseRow, AgreementRow), ApiError> {
    let agreement = store::agreements::get(change.conn(), id, true)
        .await?
        .ok_or_else(|| ApiError::not_found("agreement", id))?;
    let case = team_case(change.conn(), caller, agreement.case_id, true)
        .await
        .map_err(|_| ApiError::not_found("agreement", id))?;
    Ok((case, agreement))
}

/// Writes the timeline entry and the audit record of a change of agreement `id`, and reads it
/// back for the answer.
async fn record(
    change: &mut Change,
    caller: &Caller,
    case: &CaseRow,
    id: AgreementId,
    kind: TimelineKind,
    summary: &str,
    now: DateTime<Utc>,
) -> Result<AgreementRow, ApiError> {
    store::timeline::append(
        change.conn(),
        case.id,
        kind,
        now,
        &caller.subject,
        &id.to_string(),
        summary,
    )
    .await?;
    change.audit(caller, "agreement", &[id.0]).await?;
    reread(change, id).await
}

async fn reread(change: &mut Change, id: AgreementId) -> Result<AgreementRow, ApiError> {
    store::agreements::get(change.conn(), id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("agreement", id))
}

/// Parses a draft's content; the review date is not in the past.
fn draft(v: &mut Violations, a: &pb::Agreement, today: NaiveDate) -> Option<Draft> {
    let text = v.check("agreement.text", wire::required_text(&a.text, MAX_TEXT));
    let review = v.check(
        "agreement.review_date",
        not_past(wire::date(a.review_date.as_ref()), today),
    );
    let start = v.check(
        "agreement.start_date",
        wire::optional_date(a.start_date.as_ref()),
    );
    let end = v.check(
        "agreement.end_date",
        wire::optional_date(a.end_date.as_ref()),
    );
    if let (Some(Some(start)), Some(Some(end))) = (start, end)
        && end < start
    {
        v.add("agreement.end_date", "must not be before start_date");
        return None;
    }
    Some(Draft {
        text: text?,
        review_date: review?,
        start_date: start?,
        end_date: end?,
    })
}

fn not_past(day: Result<NaiveDate, String>, today: NaiveDate) -> Result<NaiveDate, String> {
    day.and_then(|d| {
        if d < today {
            Err("must not lie in the past (Europe/Berlin)".into())
        } else {
            Ok(d)
        }
    })
}

/// A review date later than the form allows from `today` is refused, naming the field.
fn check_review_limit(
    form: AgreementForm,
    review: NaiveDate,
    today: NaiveDate,
) -> Result<(), ApiError> {
    let latest = form.latest_review(today);
    if review > latest {
        return Err(ApiError::invalid(
            "agreement.review_date",
            format!(
                "a {} is reviewed by {latest} at the latest",
                form_name(form)
            ),
        ));
    }
    Ok(())
}

fn form_name(form: AgreementForm) -> &'static str {
    match form {
        AgreementForm::SignedAgreement => "unterschriebene Vereinbarung",
        AgreementForm::CooperationPlan => "Kooperationsplan (§ 15 SGB II)",
        AgreementForm::WrittenAgreement => "schriftliche Vereinbarung (§ 12 SGB XII)",
    }
}

fn agreement_to_wire(a: AgreementRow, today: NaiveDate) -> pb::Agreement {
    let status = a.state.status(a.start_date, a.end_date, today);
    pb::Agreement {
        id: a.id.to_string(),
        case_id: a.case_id.to_string(),
        plan_revision: a.plan_revision,
        form: pb::AgreementForm::from(a.form).into(),
        state: pb::AgreementState::from(status).into(),
        text: a.text,
        review_date: Some(wire_date(a.review_date)),
        start_date: a.start_date.map(wire_date),
        end_date: a.end_date.map(wire_date),
        acknowledgement: a.agreed.map(|(ack, at, by)| pb::Acknowledgement {
            channel: pb::AcknowledgementChannel::from(ack.channel).into(),
            client_signed: ack.client_signed,
            office_signed: ack.office_signed,
            client_assent: ack.client_assent,
            record_time: Some(timestamp(at)),
            recorded_by: by,
        }),
        comments: a
            .comments
            .into_iter()
            .map(|c| pb::AgreementComment {
                author: pb::CommentAuthor::from(c.author).into(),
                text: c.text,
                counter_proposal: c.counter_proposal,
                create_time: Some(timestamp(c.created_at)),
                recorded_by: c.recorded_by,
            })
            .collect(),
        dispute: a.dispute.map(|d| {
            let (resolution, outcome, resolved) = match d.resolved {
                Some((text, outcome, at)) => (
                    text,
                    pb::DisputeOutcome::from(outcome).into(),
                    Some(timestamp(at)),
                ),
                None => (String::new(), 0, None),
            };
            pb::Dispute {
                objection: d.objection,
                raise_time: Some(timestamp(d.raised_at)),
                resolution,
                outcome,
                resolve_time: resolved,
            }
        }),
        decline_reason: a.decline_reason.unwrap_or_default(),
        supersedes_id: a.supersedes_id.map(|s| s.to_string()).unwrap_or_default(),
        etag: a.version.to_string(),
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
    }
}

impl From<AgreementStatus> for pb::AgreementState {
    fn from(status: AgreementStatus) -> Self {
        match status {
            AgreementStatus::Draft => pb::AgreementState::Draft,
            AgreementStatus::Proposed => pb::AgreementState::Proposed,
            AgreementStatus::Agreed => pb::AgreementState::Agreed,
            AgreementStatus::Declined => pb::AgreementState::Declined,
            AgreementStatus::Disputed => pb::AgreementState::Disputed,
            AgreementStatus::Active => pb::AgreementState::Active,
            AgreementStatus::Superseded => pb::AgreementState::Superseded,
            AgreementStatus::Expired => pb::AgreementState::Expired,
            AgreementStatus::Ended => pb::AgreementState::Ended,
        }
    }
}
