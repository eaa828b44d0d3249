//! case-plan's events, applied to intake's tables: a closed case no longer counts in its
//! advisor's caseload, so the lowest-caseload assignment and the open-case figures stay true.
//! Applied inside the subscriber's transaction that advances its cursor: exactly once.

use fallwerk_platform::{
    feed::{
        Feed,
        subscriber::{ApplyError, EventHandler},
    },
    wire,
};
use fallwerk_proto::{caseplan as pb, feed::Event};
use prost::{Message, Name};
use sqlx::PgConnection;

use crate::{domain::CaseId, store};

/// intake consumes case-plan's feed (the upstream named `case-plan` in `UPSTREAMS`).
pub fn feeds() -> Vec<Feed> {
    vec![Feed::new(
        "case-plan",
        vec![pb::CaseClosed::full_name()],
        CasePlanEvents,
    )]
}

/// Applies case-plan's events.
#[derive(Debug, Default)]
pub struct CasePlanEvents;

impl EventHandler for CasePlanEvents {
    async fn apply(&self, conn: &mut PgConnection, event: &Event) -> Result<(), ApplyError> {
        let payload = event
            .payload
            .as_ref()
            .map(|any| any.value.as_slice())
            .unwrap_or_default();
        if event.event_type == pb::CaseClosed::full_name() {
            let closed = pb::CaseClosed::decode(payload)?;
            let case = wire::id(&closed.case_id)
                .map(CaseId)
                .map_err(|e| ApplyError::Poison(format!("CaseClosed case_id {e}")))?;
            let at = wire::datetime(closed.close_time.as_ref())
                .ok_or_else(|| ApplyError::Poison("CaseClosed without close_time".into()))?;
            store::cases::close(conn, case, at).await?;
        }
        Ok(())
    }
}
