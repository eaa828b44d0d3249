//! Referrals, the staff side: created under a covering consent with the data read from
//! case-plan at that moment, read, listed and withdrawn; and what every side shares: places
//! freed and waiting referrals moving up, the change event, the wire form.

use chrono::{DateTime, Utc};
use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    error::numbered,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, timestamp},
};
use fallwerk_proto::{caseplan, intake, partner as pb, types};
use prost::Message;
use sqlx::PgConnection;

use super::{PartnerApi, consents::categories, team_case};
use crate::{
    domain::{
        CaseId, DataCategory, OfferId, ReferralId, ReferralState, StateError, StepId,
        covering_consent,
    },
    store::{self, referrals::ReferralRow},
};

impl PartnerApi {
    /// CreateReferral: checks case, offer and consent, takes the consented data from
    /// case-plan (outside the transaction: a network call holds no lock), then writes the
    /// referral, its event and audit record together.
    pub(super) async fn create_referral(
        &self,
        caller: &Caller,
        request: pb::CreateReferralRequest,
    ) -> Result<pb::CreateReferralResponse, ApiError> {
        let today = office_day(self.clock.now());
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let case = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let offer = v
            .check("offer_id", wire::id(&request.offer_id))
            .map(OfferId);
        let step = v.check("step_id", wire::id(&request.step_id)).map(StepId);
        let reason = v.check("reason", wire::required_text(&request.reason, 2000));
        let wanted = categories(&mut v, "categories", &request.categories);
        let notes = v.check("notes", wire::optional_text(&request.notes, 2000));
        let wait_when_full = match pb::WhenFull::try_from(request.when_full) {
            Ok(pb::WhenFull::Wait) => Some(true),
            Ok(_) => Some(false),
            Err(_) => {
                v.add("when_full", "must be REFUSE or WAIT");
                None
            }
        };
        let parsed = (|| {
            Some((
                case?,
                offer?,
                step?,
                reason?,
                wanted?,
                notes?,
                wait_when_full?,
            ))
        })();
        let (case_id, offer_id, step_id, reason, wanted, notes, wait_when_full) =
            v.finish(parsed)?;

        // A retry of a referral made already answers as the first time, without calling
        // case-plan again (it may be down now).
        if let Some(answer) = self.changes.answered(key.as_ref()).await? {
            return Ok(answer);
        }
        // The checks that need no network first, so a refused referral costs no snapshot.
        let (offer, consent) = {
            let mut read = self.changes.read().await?;
            let case = team_case(read.conn(), caller, case_id).await?;
            if !case.open {
                return Err(StateError::CaseClosed.into());
            }
            let offer = store::offers::get(read.conn(), offer_id, false)
                .await?
                .ok_or_else(|| ApiError::not_found("offer", offer_id))?;
            let partner = store::partners::get(read.conn(), offer.partner_id)
                .await?
                .ok_or_else(|| ApiError::not_found("partner", offer.partner_id))?;
            if !partner.active {
                return Err(StateError::PartnerInactive.into());
            }
            // Every consent of the case: any one may cover the referral.
            let consents = store::consents::of_case(read.conn(), case_id, None, i64::MAX).await?;
            let terms: Vec<_> = consents.iter().map(|c| c.terms()).collect();
            let consent = covering_consent(&terms, offer.partner_id, &wanted, today)
                .map_err(consent_missing)?;
            (offer, consent)
        };
        let data = self
            .snapshot(caller.deadline, case_id, step_id, &wanted, notes)
            .await?;

        self.changes
            .create(key, async |change| {
                // Checked again under lock: the offer's places may have gone meanwhile.
                let offer = store::offers::get(change.conn(), offer.id, true)
                    .await?
                    .ok_or_else(|| ApiError::not_found("offer", offer.id))?;
                let state = if offer.has_free_place() {
                    ReferralState::Sent
                } else if wait_when_full {
                    ReferralState::Waiting
                } else {
                    return Err(StateError::OfferFull.into());
                };
                let now = self.clock.now();
                let referral = ReferralRow {
                    id: ReferralId::generate(),
                    case_id,
                    offer_id: offer.id,
                    partner_id: offer.partner_id,
                    step_id,
                    reason: reason.clone(),
                    state,
                    consent_id: consent,
                    categories: wanted.iter().copied().collect(),
                    shared: Some(data.encode_to_vec()),
                    redacted_at: None,
                    decline_reason: None,
                    outcome: None,
                    progress: None,
                    next_contact: None,
                    feedback_note: None,
                    created_by: caller.subject.clone(),
                    created_at: now,
                    updated_at: now,
                };
                store::referrals::insert(change.conn(), &referral).await?;
                change
                    .event(referral.partner_id, now, &changed(&referral, now))
                    .await?;
                change.audit(caller, "referral", &[referral.id.0]).await?;
                metrics::counter!("partner_referrals_created_total", "state" => state.as_str())
                    .increment(1);
                Ok(pb::CreateReferralResponse {
                    referral: Some(referral_to_wire(referral)),
                })
            })
            .await
    }

    /// The referral's data from case-plan, exactly the consented categories. UNAVAILABLE when
    /// case-plan cannot be reached within the deadline (the outbound client retried).
    async fn snapshot(
        &self,
        within: std::time::Instant,
        case: CaseId,
        step: StepId,
        wanted: &std::collections::BTreeSet<DataCategory>,
        notes: String,
    ) -> Result<pb::SharedData, ApiError> {
        let client = self
            .case_plan
            .as_ref()
            .ok_or_else(|| ApiError::Unavailable("case-plan's address is not configured".into()))?;
        let request = caseplan::GetCaseSnapshotRequest {
            case_id: case.to_string(),
            categories: wanted
                .iter()
                .map(|c| types::DataCategory::from(*c).into())
                .collect(),
            step_id: step.to_string(),
        };
        let snapshot = client
            .call(within, request, async |channel, request| {
                caseplan::case_snapshot_service_client::CaseSnapshotServiceClient::new(channel)
                    .get_case_snapshot(request)
                    .await
            })
            .await
            .map_err(|status| match status.code() {
                tonic::Code::NotFound => ApiError::not_found("case", case),
                code => ApiError::Unavailable(format!(
                    "case-plan could not give the referral's data ({code:?}); nothing was written, retry with the same request_id"
                )),
            })?;
        let has = |c: DataCategory| wanted.contains(&c);
        let contact = if has(DataCategory::Contact) {
            self.contact(within, &snapshot.applicant_id).await?
        } else {
            None
        };
        Ok(pb::SharedData {
            display_name: snapshot.display_name,
            birth_date: snapshot.birth_date,
            single_parent: snapshot.single_parent,
            youngest_child_age: snapshot.youngest_child_age,
            step_action: snapshot.step_action,
            goal: snapshot.goal,
            health_barriers: snapshot.health_barriers,
            debt: snapshot.debt,
            notes: if has(DataCategory::Notes) {
                notes
            } else {
                String::new()
            },
            categories: wanted
                .iter()
                .map(|c| types::DataCategory::from(*c).into())
                .collect(),
            redact_time: None,
            contact,
        })
    }

    /// How to reach the client, from intake, which keeps it (DATA_CATEGORY_CONTACT). UNAVAILABLE
    /// when intake cannot be reached within the deadline.
    async fn contact(
        &self,
        within: std::time::Instant,
        applicant_id: &str,
    ) -> Result<Option<types::Contact>, ApiError> {
        let client = self
            .intake
            .as_ref()
            .ok_or_else(|| ApiError::Unavailable("intake's address is not configured".into()))?;
        let request = intake::GetApplicantContactRequest {
            applicant_id: applicant_id.to_owned(),
        };
        let answer = client
            .call(within, request, async |channel, request| {
                intake::intake_service_client::IntakeServiceClient::new(channel)
                    .get_applicant_contact(request)
                    .await
            })
            .await
            .map_err(|status| {
                ApiError::Unavailable(format!(
                    "intake could not give the client's contact ({:?}); nothing was written, retry with the same request_id",
                    status.code()
                ))
            })?;
        Ok(answer.contact)
    }

    /// GetReferral: a referral of a case of the caller's team (audited).
    pub(super) async fn get_referral(
        &self,
        caller: &Caller,
        request: pb::GetReferralRequest,
    ) -> Result<pb::GetReferralResponse, ApiError> {
        let id = ReferralId(
            wire::id(&request.referral_id).map_err(|e| ApiError::invalid("referral_id", e))?,
        );
        let mut read = self.changes.read().await?;
        let referral = store::referrals::get(read.conn(), id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("referral", id))?;
        team_case(read.conn(), caller, referral.case_id)
            .await
            .map_err(|_| ApiError::not_found("referral", id))?;
        read.audit(caller, "referral", &[id.0]).await?;
        Ok(pb::GetReferralResponse {
            referral: Some(referral_to_wire(referral)),
        })
    }

    /// ListReferrals: a case's referrals (audited).
    pub(super) async fn list_referrals(
        &self,
        caller: &Caller,
        request: pb::ListReferralsRequest,
    ) -> Result<pb::ListReferralsResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let filters = [caller.method, request.case_id.as_str()];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let (id, page) = v.finish(id.zip(page))?;
        let mut read = self.changes.read().await?;
        team_case(read.conn(), caller, id).await?;
        let filter = store::referrals::Filter {
            case: Some(id),
            ..Default::default()
        };
        let rows =
            store::referrals::list(read.conn(), filter, page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        let ids: Vec<_> = rows.iter().map(|r| r.id.0).collect();
        read.audit(caller, "referral", &ids).await?;
        Ok(pb::ListReferralsResponse {
            referrals: rows.into_iter().map(referral_to_wire).collect(),
            next_page_token,
        })
    }

    /// GetDataSharingRecord: what the case's referrals shared with whom, when and under
    /// which consent, and every partner system's read of them (audited).
    pub(super) async fn get_data_sharing_record(
        &self,
        caller: &Caller,
        request: pb::GetDataSharingRecordRequest,
    ) -> Result<pb::GetDataSharingRecordResponse, ApiError> {
        let auditor = caller.has(fallwerk_platform::auth::Role::Auditor);
        let mut v = Violations::new();
        let case = v.check("case_id", wire::optional_id(&request.case_id));
        let person = v.check("applicant_id", wire::optional_id(&request.applicant_id));
        match (case, person) {
            (Some(None), Some(None)) => v.add("case_id", "give a case_id or an applicant_id"),
            (Some(Some(_)), Some(Some(_))) => v.add(
                "applicant_id",
                "give a case_id or an applicant_id, not both",
            ),
            _ => {}
        }
        let (case, person) = v.finish(case.zip(person))?;
        let mut read = self.changes.read().await?;
        let cases = match (case, person) {
            (Some(id), _) => {
                let id = CaseId(id);
                // Auditors read any case's record; staff their team's.
                if auditor {
                    store::cases::get(read.conn(), id)
                        .await?
                        .ok_or_else(|| ApiError::not_found("case", id))?;
                } else {
                    team_case(read.conn(), caller, id).await?;
                }
                vec![id]
            }
            (None, Some(person)) if auditor => store::cases::of_person(read.conn(), person).await?,
            (None, _) => {
                return Err(ApiError::PermissionDenied(
                    "only an auditor asks for a person's record; staff ask by case".into(),
                ));
            }
        };
        let mut shared = Vec::new();
        let mut partner_reads = Vec::new();
        for id in &cases {
            let filter = store::referrals::Filter {
                case: Some(*id),
                ..Default::default()
            };
            let mut referrals = store::referrals::list(read.conn(), filter, None, 10_000).await?;
            referrals.reverse();
            shared.extend(referrals.into_iter().map(|r| {
                pb::SharingEntry {
                    referral_id: r.id.to_string(),
                    partner_id: r.partner_id.to_string(),
                    consent_id: r.consent_id.to_string(),
                    categories: r
                        .categories
                        .iter()
                        .map(|c| types::DataCategory::from(*c).into())
                        .collect(),
                    share_time: Some(timestamp(r.created_at)),
                    shared_by: r.created_by,
                    redact_time: r.redacted_at.map(timestamp),
                    case_id: id.to_string(),
                }
            }));
            let reads = store::sharing::partner_reads(read.conn(), *id).await?;
            partner_reads.extend(reads.into_iter().map(|r| pb::PartnerRead {
                referral_id: r.referral_id,
                subject: r.subject,
                method: r.method,
                read_time: Some(timestamp(r.read_at)),
            }));
        }
        let ids: Vec<_> = cases.iter().map(|c| c.0).collect();
        read.audit(caller, "case", &ids).await?;
        Ok(pb::GetDataSharingRecordResponse {
            shared,
            partner_reads,
        })
    }

    /// WithdrawReferral: the advisor takes a referral back; a place it held moves on.
    pub(super) async fn withdraw_referral(
        &self,
        caller: &Caller,
        request: pb::WithdrawReferralRequest,
    ) -> Result<pb::WithdrawReferralResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("referral_id", wire::id(&request.referral_id))
            .map(ReferralId);
        let id = v.finish(id)?;
        self.changes
            .create(key, async |change| {
                let referral = store::referrals::get(change.conn(), id, true)
                    .await?
                    .ok_or_else(|| ApiError::not_found("referral", id))?;
                team_case(change.conn(), caller, referral.case_id)
                    .await
                    .map_err(|_| ApiError::not_found("referral", id))?;
                let next = referral.state.end(false)?;
                let now = self.clock.now();
                let mut events = finish(change.conn(), &referral, next, None, None, now).await?;
                for event in events.drain(..) {
                    change
                        .event(uuid_of(&event.partner_id)?, now, &event)
                        .await?;
                }
                change.audit(caller, "referral", &[id.0]).await?;
                Ok(pb::WithdrawReferralResponse {
                    referral: Some(referral_to_wire(reread(change.conn(), id).await?)),
                })
            })
            .await
    }
}

/// Moves `referral` to the finished or next state `next` (with a decline's reason or the
/// partner's outcome); when it held a place, the place frees and the oldest waiting referral
/// of the offer is sent. The change events to publish, the referral's own first.
pub(crate) async fn finish(
    conn: &mut PgConnection,
    referral: &ReferralRow,
    next: ReferralState,
    decline_reason: Option<&str>,
    outcome: Option<crate::domain::ReferralOutcome>,
    at: DateTime<Utc>,
) -> Result<Vec<pb::ReferralChanged>, sqlx::Error> {
    store::referrals::set_state(conn, referral.id, next, decline_reason, outcome, at).await?;
    let mut events = vec![pb::ReferralChanged {
        state: pb::ReferralState::from(next).into(),
        outcome: outcome
            .map(|o| pb::ReferralOutcome::from(o).into())
            .unwrap_or_default(),
        ..changed(referral, at)
    }];
    if referral.state.holds_place() {
        store::offers::get(conn, referral.offer_id, true).await?;
        store::offers::take_places(conn, referral.offer_id, -1).await?;
        events.extend(move_up(conn, referral.offer_id, 1, at).await?);
    }
    Ok(events)
}

/// Sends up to `free` waiting referrals of `offer` to the partner; their change events.
pub(crate) async fn move_up(
    conn: &mut PgConnection,
    offer: OfferId,
    free: i64,
    at: DateTime<Utc>,
) -> Result<Vec<pb::ReferralChanged>, sqlx::Error> {
    let mut events = Vec::new();
    for id in store::referrals::promote_waiting(conn, offer, free, at).await? {
        if let Some(referral) = store::referrals::get(conn, id, false).await? {
            events.push(changed(&referral, at));
        }
    }
    Ok(events)
}

/// Closes the unfinished referrals of a case that closed (case-plan's feed); the change
/// events to publish.
pub async fn close_referrals_of(
    conn: &mut PgConnection,
    case: CaseId,
    at: DateTime<Utc>,
) -> Result<Vec<pb::ReferralChanged>, sqlx::Error> {
    let mut events = Vec::new();
    for (id, _, _) in store::referrals::open_of_case(conn, case).await? {
        if let Some(referral) = store::referrals::get(conn, id, true).await?
            && let Ok(next) = referral.state.end(true)
        {
            events.extend(finish(conn, &referral, next, None, None, at).await?);
        }
    }
    Ok(events)
}

/// The change event of `referral` as it stands; written about the partner (its aggregate is
/// the partner id), so the partner's change stream finds its own.
pub(crate) fn changed(referral: &ReferralRow, at: DateTime<Utc>) -> pb::ReferralChanged {
    pb::ReferralChanged {
        referral_id: referral.id.to_string(),
        case_id: referral.case_id.to_string(),
        step_id: referral.step_id.to_string(),
        partner_id: referral.partner_id.to_string(),
        offer_id: referral.offer_id.to_string(),
        state: pb::ReferralState::from(referral.state).into(),
        outcome: referral
            .outcome
            .map(|o| pb::ReferralOutcome::from(o).into())
            .unwrap_or_default(),
        occur_time: Some(timestamp(at)),
    }
}

pub(crate) fn uuid_of(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|e| ApiError::Internal(format!("event id {id}: {e}")))
}

pub(crate) async fn reread(
    conn: &mut PgConnection,
    id: ReferralId,
) -> Result<ReferralRow, ApiError> {
    store::referrals::get(conn, id, false)
        .await?
        .ok_or_else(|| ApiError::not_found("referral", id))
}

/// FAILED_PRECONDITION `CONSENT_MISSING` naming the categories no consent in force covers, as
/// the contract's `DataCategory` value names.
fn consent_missing(missing: Vec<DataCategory>) -> ApiError {
    let names: Vec<&str> = missing
        .iter()
        .map(|&c| types::DataCategory::from(c).as_str_name())
        .collect();
    ApiError::FailedPrecondition {
        reason: pb::ErrorReason::ConsentMissing.into(),
        message: format!(
            "no consent in force lets this partner receive: {}",
            names.join(", ")
        ),
        metadata: numbered("category", &names),
    }
}

/// The wire form; the shared data as stored (absent once redacted).
pub(crate) fn referral_to_wire(r: ReferralRow) -> pb::Referral {
    let data = match (&r.shared, r.redacted_at) {
        (_, Some(at)) => Some(pb::SharedData {
            categories: r
                .categories
                .iter()
                .map(|c| types::DataCategory::from(*c).into())
                .collect(),
            redact_time: Some(timestamp(at)),
            ..Default::default()
        }),
        (Some(bytes), None) => pb::SharedData::decode(bytes.as_slice()).ok(),
        (None, None) => None,
    };
    pb::Referral {
        id: r.id.to_string(),
        case_id: r.case_id.to_string(),
        offer_id: r.offer_id.to_string(),
        partner_id: r.partner_id.to_string(),
        step_id: r.step_id.to_string(),
        reason: r.reason,
        state: pb::ReferralState::from(r.state).into(),
        data,
        consent_id: r.consent_id.to_string(),
        decline_reason: r.decline_reason.unwrap_or_default(),
        outcome: r
            .outcome
            .map(|o| pb::ReferralOutcome::from(o).into())
            .unwrap_or_default(),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        progress: r
            .progress
            .map(|p| pb::Progress::from(p).into())
            .unwrap_or_default(),
        next_contact: r.next_contact.map(wire::wire_date),
        // Gone with the shared data when the consent is revoked.
        feedback_note: if r.redacted_at.is_some() {
            String::new()
        } else {
            r.feedback_note.unwrap_or_default()
        },
    }
}
