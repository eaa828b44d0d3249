//! case-plan's events, applied to intake's tables: closure, reopening and reassignment keep
//! each advisor's caseload true, and with it the lowest-caseload assignment and the open-case
//! figures; an erased case lets the client be erased in turn.
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

use crate::{
    domain::{AdvisorId, CaseId},
    store,
};

fn case_id(value: &str) -> Result<CaseId, ApplyError> {
    wire::id(value)
        .map(CaseId)
        .map_err(|e| ApplyError::Poison(format!("case_id {e}")))
}

/// intake consumes case-plan's feed (the upstream named `case-plan` in `UPSTREAMS`).
pub fn feeds() -> Vec<Feed> {
    vec![Feed::new(
        "case-plan",
        vec![
            pb::CaseClosed::full_name(),
            pb::CaseReopened::full_name(),
            pb::CaseReassigned::full_name(),
            pb::CaseErased::full_name(),
        ],
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
        let t = event.event_type.as_str();
        if t == pb::CaseClosed::full_name() {
            let closed = pb::CaseClosed::decode(payload)?;
            let at = wire::datetime(closed.close_time.as_ref())
                .ok_or_else(|| ApplyError::Poison("CaseClosed without close_time".into()))?;
            store::cases::close(conn, case_id(&closed.case_id)?, at).await?;
        } else if t == pb::CaseReopened::full_name() {
            let reopened = pb::CaseReopened::decode(payload)?;
            store::cases::reopen(conn, case_id(&reopened.case_id)?).await?;
        } else if t == pb::CaseReassigned::full_name() {
            let reassigned = pb::CaseReassigned::decode(payload)?;
            let advisor = wire::id(&reassigned.to_advisor_id)
                .map(AdvisorId)
                .map_err(|e| ApplyError::Poison(format!("CaseReassigned to_advisor_id {e}")))?;
            store::cases::reassign(conn, case_id(&reassigned.case_id)?, advisor).await?;
        } else if t == pb::CaseErased::full_name() {
            let erased = pb::CaseErased::decode(payload)?;
            let at = wire::datetime(erased.erase_time.as_ref())
                .ok_or_else(|| ApplyError::Poison("CaseErased without erase_time".into()))?;
            store::erasure::case_erased(conn, case_id(&erased.case_id)?, at).await?;
        }
        Ok(())
    }
}
