//! The partner system's change stream, followed for the whole run: when each new referral
//! arrived on it, so that a scenario can measure the way from `CreateReferral`'s answer to
//! the partner system.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use fallwerk_proto::partner::{
    self, partner_agency_service_client::PartnerAgencyServiceClient,
    stream_my_referral_changes_response::Item,
};
use tokio::{sync::Notify, time::Instant};
use tonic::transport::Channel;

use super::{Bearer, with};

/// New referrals seen on the stream and not yet asked for, with when they arrived.
#[derive(Default)]
pub(super) struct Delivered {
    arrived: Mutex<HashMap<String, Instant>>,
    changed: Notify,
}

impl Delivered {
    /// Follows the agency's stream from now on, reconnecting after a break from the last
    /// position it saw. The task ends with the process.
    pub(super) fn follow(channel: Channel, token: Bearer) -> Arc<Delivered> {
        let delivered = Arc::new(Delivered::default());
        let this = Arc::clone(&delivered);
        tokio::spawn(async move {
            let mut client = PartnerAgencyServiceClient::new(channel);
            // Position 0 would replay the agency's whole history; the run's agency is new.
            let mut after = 0;
            loop {
                let request = partner::StreamMyReferralChangesRequest {
                    after_position: after,
                };
                if let Ok(stream) = client
                    .stream_my_referral_changes(with(request, &token))
                    .await
                {
                    let mut stream = stream.into_inner();
                    while let Ok(Some(message)) = stream.message().await {
                        match message.item {
                            Some(Item::Change(change)) => {
                                after = change.position;
                                if change.state() == partner::ReferralState::Sent
                                    && let Some(referral) = change.referral
                                {
                                    this.arrived(referral.id);
                                }
                            }
                            Some(Item::HeartbeatPosition(position)) => after = position,
                            None => {}
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        delivered
    }

    fn arrived(&self, referral_id: String) {
        self.arrived
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(referral_id)
            .or_insert_with(Instant::now);
        self.changed.notify_waiters();
    }

    /// When `referral_id` arrived on the stream, waiting for it until `deadline`.
    pub(super) async fn wait_for(&self, referral_id: &str, deadline: Instant) -> Option<Instant> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so an arrival in between is not missed.
            changed.as_mut().enable();
            if let Some(at) = self
                .arrived
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(referral_id)
            {
                return Some(at);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }
}
