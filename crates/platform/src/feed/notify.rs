//! One LISTEN connection per service process, shared by the sequencer and every feed stream:
//! `<schema>_feed` (positions stamped, to be sent; one NOTIFY per stamped batch) and
//! `<schema>_outbox` (events committed by a writer outside this process, to be stamped).
//! The service's own writes wake its sequencer in-process ([`FeedSignals::committed`], from
//! `change::Change`): a NOTIFY in every write transaction would serialize all commits of the
//! database. Notifications lost while the connection was down are made up for by waking
//! everyone after a reconnect.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgListener};
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// Wake-ups for one schema's feed.
#[derive(Clone)]
pub struct FeedSignals {
    /// New events committed (by this process, or announced on `<schema>_outbox`): the
    /// sequencer should stamp.
    pub committed: Arc<Notify>,
    /// Positions stamped: feed streams should read. The value only changes; streams re-read.
    pub stamped: watch::Sender<u64>,
}

impl FeedSignals {
    /// Fresh signals.
    pub fn new() -> Self {
        FeedSignals {
            committed: Arc::new(Notify::new()),
            stamped: watch::Sender::new(0),
        }
    }

    /// Tells feed streams that new positions exist.
    pub fn wake_streams(&self) {
        self.stamped.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Default for FeedSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// Listens for `schema`'s notifications until shutdown.
pub async fn listen(
    pool: PgPool,
    schema: &'static str,
    signals: FeedSignals,
    shutdown: CancellationToken,
) {
    let outbox_channel = format!("{schema}_outbox");
    let feed_channel = format!("{schema}_feed");
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "feed listener cannot connect; retrying");
                if sleep_or_shutdown(Duration::from_secs(1), &shutdown).await {
                    return;
                }
                continue;
            }
        };
        if let Err(error) = listener
            .listen_all([outbox_channel.as_str(), feed_channel.as_str()])
            .await
        {
            tracing::warn!(%error, "feed listener cannot LISTEN; retrying");
            if sleep_or_shutdown(Duration::from_secs(1), &shutdown).await {
                return;
            }
            continue;
        }
        // Whatever happened while not listening is caught up now.
        signals.committed.notify_one();
        signals.wake_streams();
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(n)) if n.channel() == outbox_channel => signals.committed.notify_one(),
                Ok(Some(_)) => signals.wake_streams(),
                // Reconnected: notifications may have been lost meanwhile.
                Ok(None) => {
                    signals.committed.notify_one();
                    signals.wake_streams();
                }
                Err(error) => {
                    tracing::warn!(%error, "feed listener lost; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Sleeps; `true` when shutdown came first.
pub(crate) async fn sleep_or_shutdown(duration: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(duration) => false,
    }
}
