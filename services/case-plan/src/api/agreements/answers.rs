//! The client's answers to an agreement, recorded by the advisor: comments and
//! counter-proposals, agreement in the form's way, a decline, a dispute and its resolution.

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    wire::{self, timestamp},
};
use fallwerk_proto::caseplan as pb;

use super::{MAX_NOTE, agreement_of_team, agreement_to_wire, form_name, record};
use crate::{
    api::CasePlan,
    domain::{
        Acknowledgement, AcknowledgementChannel, AgreementId, AgreementState, CommentAuthor,
        DisputeOutcome, TimelineKind,
    },
    store::{self, agreements::CommentRow},
};

impl CasePlan {
    /// CommentOnAgreement: the client's or the office's comment or counter-proposal.
    pub(in crate::api) async fn comment_on_agreement(
        &self,
        caller: &Caller,
        request: pb::CommentOnAgreementRequest,
    ) -> Result<pb::CommentOnAgreementResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("agreement_id", wire::id(&request.agreement_id))
            .map(AgreementId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let comment = wire::required(&mut v, "comment", request.comment.as_ref()).and_then(|c| {
            let author = v.check(
                "comment.author",
                wire::enum_value::<pb::CommentAuthor, CommentAuthor>(c.author),
            );
            let text = v.check("comment.text", wire::required_text(&c.text, MAX_NOTE));
            Some((author?, text?, c.counter_proposal))
        });
        let (id, etag, (author, text, counter_proposal)) = v.finish(
            id.zip(etag)
                .zip(comment)
                .map(|((id, etag), comment)| (id, etag, comment)),
        )?;
        let today = office_day(self.clock.now());
        self.changes
            .create(key, async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                current.state.may_comment()?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                let now = self.clock.now();
                let comment = CommentRow {
                    author,
                    text,
                    counter_proposal,
                    created_at: now,
                    recorded_by: caller.subject.clone(),
                };
                store::agreements::comment(change.conn(), id, &comment).await?;
                let summary = match (author, counter_proposal) {
                    (CommentAuthor::Client, true) => "Gegenvorschlag der Klientin / des Klienten",
                    (CommentAuthor::Client, false) => "Anmerkung der Klientin / des Klienten",
                    (CommentAuthor::Office, _) => "Anmerkung des Amtes",
                };
                let row = record(
                    change,
                    caller,
                    &case,
                    id,
                    TimelineKind::AgreementCommented,
                    summary,
                    now,
                )
                .await?;
                Ok(pb::CommentOnAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }

    /// AcceptAgreement: the client agreed, in the form's way; the agreement in force before is
    /// superseded.
    pub(in crate::api) async fn accept_agreement(
        &self,
        caller: &Caller,
        request: pb::AcceptAgreementRequest,
    ) -> Result<pb::AcceptAgreementResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("agreement_id", wire::id(&request.agreement_id))
            .map(AgreementId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let ack = wire::required(&mut v, "acknowledgement", request.acknowledgement.as_ref())
            .and_then(|a| {
                let channel = v.check(
                    "acknowledgement.channel",
                    wire::enum_value::<pb::AcknowledgementChannel, AcknowledgementChannel>(
                        a.channel,
                    ),
                );
                Some(Acknowledgement {
                    channel: channel?,
                    client_signed: a.client_signed,
                    office_signed: a.office_signed,
                    client_assent: a.client_assent,
                })
            });
        let (id, etag, ack) = v.finish(
            id.zip(etag)
                .zip(ack)
                .map(|((id, etag), ack)| (id, etag, ack)),
        )?;
        let today = office_day(self.clock.now());
        self.changes
            .create(key, async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                case.state.may_change()?;
                current.state.accept()?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                current.form.accepts(&ack)?;
                // The form's review limit counts from the day it is agreed.
                let latest = current.form.latest_review(today);
                if current.review_date > latest {
                    return Err(ApiError::FailedPrecondition {
                        reason: pb::ErrorReason::ReviewDateTooLate.into(),
                        message: format!(
                            "the agreement's review date lies beyond what a {} allows from today ({latest}): decline it and propose a new draft",
                            form_name(current.form),
                        ),
                        metadata: [("latest_review_date".to_owned(), latest.to_string())].into(),
                    });
                }
                let now = self.clock.now();
                if let Some(previous) = case.agreement_id {
                    store::agreements::set_state(change.conn(), previous, AgreementState::Superseded, now)
                        .await?;
                }
                store::agreements::agree(change.conn(), id, &ack, now, &caller.subject).await?;
                store::cases::set_agreement(change.conn(), case.id, Some(id), Some(current.review_date), now)
                    .await?;
                let event = pb::AgreementAgreed {
                    case_id: case.id.to_string(),
                    agreement_id: id.to_string(),
                    form: pb::AgreementForm::from(current.form).into(),
                    plan_revision: current.plan_revision,
                    supersedes_id: case.agreement_id.map(|a| a.to_string()).unwrap_or_default(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(case.id, now, &event).await?;
                let summary = format!("Vereinbarung geschlossen ({})", form_name(current.form));
                let row = record(change, caller, &case, id, TimelineKind::AgreementAgreed, &summary, now).await?;
                metrics::counter!("caseplan_agreements_agreed_total", "form" => current.form.as_str())
                    .increment(1);
                Ok(pb::AcceptAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }

    /// DeclineAgreement: the client declined a proposal.
    pub(in crate::api) async fn decline_agreement(
        &self,
        caller: &Caller,
        request: pb::DeclineAgreementRequest,
    ) -> Result<pb::DeclineAgreementResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("agreement_id", wire::id(&request.agreement_id))
            .map(AgreementId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let reason = v.check("reason", wire::required_text(&request.reason, MAX_NOTE));
        let (id, etag, reason) = v.finish(
            id.zip(etag)
                .zip(reason)
                .map(|((id, etag), reason)| (id, etag, reason)),
        )?;
        let today = office_day(self.clock.now());
        self.changes
            .create(key, async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                current.state.decline()?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                let now = self.clock.now();
                store::agreements::decline(change.conn(), id, &reason, now).await?;
                let row = record(
                    change,
                    caller,
                    &case,
                    id,
                    TimelineKind::AgreementDeclined,
                    "Vereinbarung abgelehnt",
                    now,
                )
                .await?;
                Ok(pb::DeclineAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }

    /// DisputeAgreement: the client objects to a proposal or the agreement in force; it is
    /// paused until resolved.
    pub(in crate::api) async fn dispute_agreement(
        &self,
        caller: &Caller,
        request: pb::DisputeAgreementRequest,
    ) -> Result<pb::DisputeAgreementResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("agreement_id", wire::id(&request.agreement_id))
            .map(AgreementId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let objection = v.check(
            "objection",
            wire::required_text(&request.objection, MAX_NOTE),
        );
        let (id, etag, objection) = v.finish(
            id.zip(etag)
                .zip(objection)
                .map(|((id, etag), objection)| (id, etag, objection)),
        )?;
        let today = office_day(self.clock.now());
        self.changes
            .create(key, async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                case.state.may_change()?;
                let from = current.state.dispute(current.state.status(
                    current.start_date,
                    current.end_date,
                    today,
                ))?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                let now = self.clock.now();
                store::agreements::dispute(change.conn(), id, &objection, from, now).await?;
                let row = record(
                    change,
                    caller,
                    &case,
                    id,
                    TimelineKind::AgreementDisputed,
                    "Widerspruch gegen die Vereinbarung (Schlichtung)",
                    now,
                )
                .await?;
                Ok(pb::DisputeAgreementResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }

    /// ResolveDispute: the agreement goes on as it was, or ends.
    pub(in crate::api) async fn resolve_dispute(
        &self,
        caller: &Caller,
        request: pb::ResolveDisputeRequest,
    ) -> Result<pb::ResolveDisputeResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("agreement_id", wire::id(&request.agreement_id))
            .map(AgreementId);
        let etag = v.check("etag", wire::etag(&request.etag));
        let resolution = v.check(
            "resolution",
            wire::required_text(&request.resolution, MAX_NOTE),
        );
        let outcome = v.check(
            "outcome",
            wire::enum_value::<pb::DisputeOutcome, DisputeOutcome>(request.outcome),
        );
        let (id, etag, resolution, outcome) = v.finish(
            id.zip(etag)
                .zip(resolution)
                .zip(outcome)
                .map(|(((id, etag), resolution), outcome)| (id, etag, resolution, outcome)),
        )?;
        let today = office_day(self.clock.now());
        self.changes
            .create(key, async |change| {
                let (case, current) = agreement_of_team(change, caller, id).await?;
                let from = current.dispute.as_ref().and_then(|d| d.from);
                let next = current.state.resolve(outcome, from)?;
                if current.version != etag {
                    return Err(ApiError::stale("agreement", id));
                }
                let now = self.clock.now();
                store::agreements::resolve(change.conn(), id, &resolution, outcome, next, now)
                    .await?;
                if next == AgreementState::Ended && case.agreement_id == Some(id) {
                    store::cases::set_agreement(change.conn(), case.id, None, None, now).await?;
                }
                let summary = match outcome {
                    DisputeOutcome::Keep => "Schlichtung: Vereinbarung bleibt bestehen",
                    DisputeOutcome::End => "Schlichtung: Vereinbarung beendet",
                };
                let row = record(
                    change,
                    caller,
                    &case,
                    id,
                    TimelineKind::DisputeResolved,
                    summary,
                    now,
                )
                .await?;
                Ok(pb::ResolveDisputeResponse {
                    agreement: Some(agreement_to_wire(row, today)),
                })
            })
            .await
    }
}
