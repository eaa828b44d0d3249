//! The partner-facing API: a partner system sees and acts on its own referrals only (the
//! partner is the token's `partner_id`), and keeps its offers' capacity.

use std::time::Duration;

use fallwerk_platform::{
    ApiError, Violations,
    auth::{Caller, token_expired},
    idempotency::request_key,
    page::PageRequest,
    wire,
};
use fallwerk_proto::partner as pb;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{
    PartnerApi, my_partner,
    partners::{offer_to_wire, places},
    referrals::{finish, move_up, referral_to_wire, reread, uuid_of},
};
use crate::{
    domain::{
        DataCategory, OfferId, PartnerId, Progress, ReferralId, ReferralOutcome, ReferralState,
        StateError,
    },
    store::{self, referrals::ReferralRow},
};

impl PartnerApi {
    /// ListMyReferrals: my referrals, newest first (audited).
    pub(super) async fn list_my_referrals(
        &self,
        caller: &Caller,
        request: pb::ListMyReferralsRequest,
    ) -> Result<pb::ListMyReferralsResponse, ApiError> {
        let me = my_partner(caller)?;
        let mut v = Violations::new();
        let state = if request.state == 0 {
            Some(None)
        } else {
            v.check(
                "state",
                wire::enum_value::<pb::ReferralState, ReferralState>(request.state),
            )
            .map(Some)
        };
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[
                caller.method,
                &me.to_string(),
                &request.state.to_string(),
                &format!("{:?}", request.changed_since),
            ],
        );
        let (state, page) = v.finish(state.zip(page))?;
        let filter = store::referrals::Filter {
            partner: Some(me),
            state,
            changed_since: wire::datetime(request.changed_since.as_ref()),
            ..Default::default()
        };
        let mut read = self.changes.read().await?;
        let rows =
            store::referrals::list(read.conn(), filter, page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        let ids: Vec<_> = rows.iter().map(|r| r.id.0).collect();
        read.audit(caller, "referral", &ids).await?;
        Ok(pb::ListMyReferralsResponse {
            referrals: rows.into_iter().map(referral_to_wire).collect(),
            next_page_token,
        })
    }

    /// GetMyReferral: one of my referrals (audited).
    pub(super) async fn get_my_referral(
        &self,
        caller: &Caller,
        request: pb::GetMyReferralRequest,
    ) -> Result<pb::GetMyReferralResponse, ApiError> {
        let me = my_partner(caller)?;
        let id = ReferralId(
            wire::id(&request.referral_id).map_err(|e| ApiError::invalid("referral_id", e))?,
        );
        let mut read = self.changes.read().await?;
        let referral = mine(read.conn(), me, id, false).await?;
        read.audit(caller, "referral", &[id.0]).await?;
        Ok(pb::GetMyReferralResponse {
            referral: Some(referral_to_wire(referral)),
        })
    }

    /// AcceptReferral: a sent referral takes a place of its offer.
    pub(super) async fn accept_referral(
        &self,
        caller: &Caller,
        request: pb::AcceptReferralRequest,
    ) -> Result<pb::AcceptReferralResponse, ApiError> {
        let me = my_partner(caller)?;
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("referral_id", wire::id(&request.referral_id))
            .map(ReferralId);
        let id = v.finish(id)?;
        self.changes
            .create(key, async |change| {
                let referral = mine(change.conn(), me, id, true).await?;
                let next = referral.state.accept()?;
                let offer = store::offers::get(change.conn(), referral.offer_id, true)
                    .await?
                    .ok_or_else(|| ApiError::not_found("offer", referral.offer_id))?;
                if !offer.has_free_place() {
                    return Err(StateError::OfferFull.into());
                }
                store::offers::take_places(change.conn(), offer.id, 1).await?;
                let now = self.clock.now();
                for event in finish(change.conn(), &referral, next, None, None, now).await? {
                    change
                        .event(uuid_of(&event.partner_id)?, now, &event)
                        .await?;
                }
                change.audit(caller, "referral", &[id.0]).await?;
                Ok(pb::AcceptReferralResponse {
                    referral: Some(referral_to_wire(reread(change.conn(), id).await?)),
                })
            })
            .await
    }

    /// DeclineReferral: a sent or waiting referral is declined with a reason.
    pub(super) async fn decline_referral(
        &self,
        caller: &Caller,
        request: pb::DeclineReferralRequest,
    ) -> Result<pb::DeclineReferralResponse, ApiError> {
        let me = my_partner(caller)?;
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("referral_id", wire::id(&request.referral_id))
            .map(ReferralId);
        let reason = v.check("reason", wire::required_text(&request.reason, 2000));
        let (id, reason) = v.finish(id.zip(reason))?;
        self.changes
            .create(key, async |change| {
                let referral = mine(change.conn(), me, id, true).await?;
                let next = referral.state.decline()?;
                let now = self.clock.now();
                for event in
                    finish(change.conn(), &referral, next, Some(&reason), None, now).await?
                {
                    change
                        .event(uuid_of(&event.partner_id)?, now, &event)
                        .await?;
                }
                change.audit(caller, "referral", &[id.0]).await?;
                Ok(pb::DeclineReferralResponse {
                    referral: Some(referral_to_wire(reread(change.conn(), id).await?)),
                })
            })
            .await
    }

    /// ReportProgress: how an accepted referral goes; a note only under a consent covering
    /// notes.
    pub(super) async fn report_progress(
        &self,
        caller: &Caller,
        request: pb::ReportProgressRequest,
    ) -> Result<pb::ReportProgressResponse, ApiError> {
        let me = my_partner(caller)?;
        let today = fallwerk_platform::clock::office_day(self.clock.now());
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("referral_id", wire::id(&request.referral_id))
            .map(ReferralId);
        let progress = v.check(
            "progress",
            wire::enum_value::<pb::Progress, Progress>(request.progress),
        );
        let next_contact = v.check(
            "next_contact",
            wire::optional_date(request.next_contact.as_ref()).and_then(|d| match d {
                Some(d) if d < today => Err("must not lie in the past".to_owned()),
                d => Ok(d),
            }),
        );
        let note = v.check("note", wire::optional_text(&request.note, 2000));
        let parsed = (|| Some((id?, progress?, next_contact?, note?)))();
        let (id, progress, next_contact, note) = v.finish(parsed)?;
        self.changes
            .create(key, async |change| {
                let referral = mine(change.conn(), me, id, true).await?;
                let next = referral.state.report(progress)?;
                // § 76 SGB X: free text only where the client consented to notes, and not
                // after a revocation.
                if !note.is_empty()
                    && (!referral.categories.contains(&DataCategory::Notes)
                        || referral.redacted_at.is_some())
                {
                    return Err(StateError::NoteNotConsented.into());
                }
                let now = self.clock.now();
                let note = (!note.is_empty()).then_some(note.as_str());
                store::referrals::report(
                    change.conn(),
                    id,
                    next,
                    progress,
                    next_contact,
                    note,
                    now,
                )
                .await?;
                let updated = reread(change.conn(), id).await?;
                change
                    .event(me, now, &super::referrals::changed(&updated, now))
                    .await?;
                change.audit(caller, "referral", &[id.0]).await?;
                Ok(pb::ReportProgressResponse {
                    referral: Some(referral_to_wire(updated)),
                })
            })
            .await
    }

    /// CompleteReferral: an accepted referral is finished; its place moves on.
    pub(super) async fn complete_referral(
        &self,
        caller: &Caller,
        request: pb::CompleteReferralRequest,
    ) -> Result<pb::CompleteReferralResponse, ApiError> {
        let me = my_partner(caller)?;
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("referral_id", wire::id(&request.referral_id))
            .map(ReferralId);
        let outcome = v.check(
            "outcome",
            wire::enum_value::<pb::ReferralOutcome, ReferralOutcome>(request.outcome),
        );
        let (id, outcome) = v.finish(id.zip(outcome))?;
        self.changes
            .create(key, async |change| {
                let referral = mine(change.conn(), me, id, true).await?;
                let next = referral.state.complete(outcome)?;
                let now = self.clock.now();
                for event in
                    finish(change.conn(), &referral, next, None, Some(outcome), now).await?
                {
                    change
                        .event(uuid_of(&event.partner_id)?, now, &event)
                        .await?;
                }
                change.audit(caller, "referral", &[id.0]).await?;
                Ok(pb::CompleteReferralResponse {
                    referral: Some(referral_to_wire(reread(change.conn(), id).await?)),
                })
            })
            .await
    }

    /// UpdateOfferCapacity: my offer's places; places that free let waiting referrals move up.
    pub(super) async fn update_offer_capacity(
        &self,
        caller: &Caller,
        request: pb::UpdateOfferCapacityRequest,
    ) -> Result<pb::UpdateOfferCapacityResponse, ApiError> {
        let me = my_partner(caller)?;
        let mut v = Violations::new();
        let id = v
            .check("offer_id", wire::id(&request.offer_id))
            .map(OfferId);
        let places = v.check("places", places(request.places));
        let (id, places) = v.finish(id.zip(places))?;
        self.changes
            .update(async |change| {
                let offer = store::offers::get(change.conn(), id, true)
                    .await?
                    .filter(|o| o.partner_id == me)
                    .ok_or_else(|| ApiError::not_found("offer", id))?;
                if places < offer.places_taken {
                    return Err(ApiError::invalid(
                        "places",
                        format!("must not be below the {} places taken", offer.places_taken),
                    ));
                }
                store::offers::set_places(change.conn(), id, places).await?;
                let now = self.clock.now();
                let free = i64::from(places - offer.places_taken);
                for event in move_up(change.conn(), id, free, now).await? {
                    change
                        .event(uuid_of(&event.partner_id)?, now, &event)
                        .await?;
                }
                let offer = store::offers::get(change.conn(), id, false)
                    .await?
                    .ok_or_else(|| ApiError::not_found("offer", id))?;
                Ok(pb::UpdateOfferCapacityResponse {
                    offer: Some(offer_to_wire(offer)),
                })
            })
            .await
    }
}

/// Messages buffered per change stream before it waits for the partner system to read.
const STREAM_BUFFER: usize = 32;
/// Heartbeat interval while nothing changes.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// A partner system's change stream.
pub(super) type ChangeStream = ReceiverStream<Result<pb::StreamMyReferralChangesResponse, Status>>;

impl PartnerApi {
    /// StreamMyReferralChanges: my referrals' changes after a position, then live. A task per
    /// stream reads pages of the feed into a small bounded channel (a slow reader holds one
    /// page, not the backlog) and sleeps until the sequencer stamps new positions.
    pub(super) async fn stream_my_referral_changes(
        &self,
        caller: &Caller,
        request: pb::StreamMyReferralChangesRequest,
    ) -> Result<ChangeStream, ApiError> {
        let me = my_partner(caller)?;
        if request.after_position < 0 {
            return Err(ApiError::invalid("after_position", "must not be negative"));
        }
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let api = self.clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            if let Err(status) = api.follow(&caller, me, request.after_position, &tx).await {
                // The reader may be gone already; nothing more to tell it then.
                let _ = tx.send(Err(status)).await;
            }
        });
        metrics::counter!("partner_change_streams_opened_total").increment(1);
        Ok(ReceiverStream::new(rx))
    }

    /// Sends `me`'s changes after `after` into `tx` until the reader leaves, the server shuts
    /// down (then UNAVAILABLE) or the caller's token expires (then UNAUTHENTICATED): either
    /// way the partner system reconnects and resumes.
    async fn follow(
        &self,
        caller: &Caller,
        me: PartnerId,
        mut after: i64,
        tx: &mpsc::Sender<Result<pb::StreamMyReferralChangesResponse, Status>>,
    ) -> Result<(), Status> {
        {
            let mut read = self.changes.read().await.map_err(Status::from)?;
            fallwerk_platform::feed::retention::check_not_pruned(read.conn(), crate::SCHEMA, after)
                .await
                .map_err(Status::from)?;
        }
        let mut stamped = self.changes.stamped();
        let expired = caller.until_token_expires();
        tokio::pin!(expired);
        loop {
            if caller.expires_at <= chrono::Utc::now() {
                return Err(token_expired());
            }
            let page = {
                let mut read = self.changes.read().await.map_err(Status::from)?;
                let page = store::stream::changes(read.conn(), me, after)
                    .await
                    .map_err(|e| Status::from(ApiError::from(e)))?;
                let mut changes = Vec::with_capacity(page.len());
                for (position, payload) in page {
                    let event = pb::ReferralChanged::decode(payload.as_slice())
                        .map_err(|e| Status::internal(format!("stored change: {e}")))?;
                    let id = ReferralId(uuid_of(&event.referral_id).map_err(Status::from)?);
                    let referral = store::referrals::get(read.conn(), id, false)
                        .await
                        .map_err(|e| Status::from(ApiError::from(e)))?;
                    changes.push((position, event, referral));
                }
                let ids: Vec<_> = changes
                    .iter()
                    .filter_map(|(_, _, r)| r.as_ref())
                    .map(|r| r.id.0)
                    .collect();
                if !ids.is_empty() {
                    read.audit(caller, "referral", &ids)
                        .await
                        .map_err(Status::from)?;
                }
                changes
            };
            let caught_up = (page.len() as i64) < store::stream::PAGE;
            for (position, event, referral) in page {
                let change = pb::ReferralChange {
                    position,
                    referral: referral.map(referral_to_wire),
                    state: event.state,
                    occur_time: event.occur_time,
                };
                let message = pb::StreamMyReferralChangesResponse {
                    item: Some(pb::stream_my_referral_changes_response::Item::Change(
                        change,
                    )),
                };
                if tx.send(Ok(message)).await.is_err() {
                    return Ok(());
                }
                after = position;
            }
            if !caught_up {
                continue;
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => {
                    return Err(Status::unavailable("the server is shutting down; resume from your last position"));
                }
                _ = tx.closed() => return Ok(()),
                () = &mut expired => return Err(token_expired()),
                changed = stamped.changed() => {
                    if changed.is_err() {
                        return Err(Status::unavailable("the feed stopped; resume from your last position"));
                    }
                }
                _ = tokio::time::sleep(HEARTBEAT) => {
                    let heartbeat = pb::StreamMyReferralChangesResponse {
                        item: Some(pb::stream_my_referral_changes_response::Item::HeartbeatPosition(after)),
                    };
                    if tx.send(Ok(heartbeat)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Referral `id` if it is addressed to partner `me`; NOT_FOUND otherwise (another partner's
/// referral does not exist for this one).
async fn mine(
    conn: &mut sqlx::PgConnection,
    me: PartnerId,
    id: ReferralId,
    lock: bool,
) -> Result<ReferralRow, ApiError> {
    store::referrals::get(conn, id, lock)
        .await?
        .filter(|r| r.partner_id == me)
        .ok_or_else(|| ApiError::not_found("referral", id))
}
