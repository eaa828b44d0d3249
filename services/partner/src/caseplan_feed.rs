//! case-plan's events, applied to partner's read model of cases: a case partner may refer
//! (`CaseRegistered`), closed (`CaseClosed`: its unfinished referrals close, places free) or
//! reopened (`CaseReopened`), erased (`CaseErased`: what partner holds of its client goes). Applied in the subscriber's transaction: exactly once.

use fallwerk_platform::{
    feed::{
        Feed,
        subscriber::{ApplyError, EventHandler},
    },
    outbox::Outbox,
    retention::{ErasureProof, Proven},
    wire,
};
use fallwerk_proto::{caseplan as pb, feed::Event};
use prost::{Message, Name};
use sqlx::PgConnection;

use crate::{
    api::referrals::close_referrals_of,
    domain::{CaseId, TeamId},
    store::cases::{self, CaseRow},
};

/// partner consumes case-plan's feed (the upstream named `case-plan` in `UPSTREAMS`); it also
/// calls case-plan for a referral's data.
pub fn feeds() -> Vec<Feed> {
    vec![Feed::new(
        "case-plan",
        vec![
            pb::CaseRegistered::full_name(),
            pb::CaseClosed::full_name(),
            pb::CaseReopened::full_name(),
            pb::CaseErased::full_name(),
        ],
        CasePlanEvents {
            outbox: Outbox::new(crate::SCHEMA),
            proof: ErasureProof::new(crate::SCHEMA),
        },
    )]
}

/// Applies case-plan's events.
pub struct CasePlanEvents {
    outbox: Outbox,
    proof: ErasureProof,
}

fn id(field: &str, value: &str) -> Result<uuid::Uuid, ApplyError> {
    wire::id(value).map_err(|e| ApplyError::Poison(format!("{field} {e}")))
}

impl EventHandler for CasePlanEvents {
    async fn apply(&self, conn: &mut PgConnection, event: &Event) -> Result<(), ApplyError> {
        let payload = event
            .payload
            .as_ref()
            .map(|any| any.value.as_slice())
            .unwrap_or_default();
        let at = wire::datetime(event.occur_time.as_ref())
            .ok_or_else(|| ApplyError::Poison("the event has no occur_time".into()))?;
        let t = event.event_type.as_str();
        if t == pb::CaseErased::full_name() {
            let erased = pb::CaseErased::decode(payload)?;
            let case = id("case_id", &erased.case_id)?;
            if cases::erase(conn, CaseId(case), at).await? {
                let cause = pb::CaseErased::full_name();
                let proven = Proven {
                    run_id: id("event_id", &event.event_id)?,
                    class: "referred_case",
                    record_id: case,
                    rule: "referred_case: erased with its case at case-plan",
                    cause: &cause,
                    at,
                };
                self.proof.record(conn, &proven).await?;
            }
            return Ok(());
        }
        let mut applicant = None;
        let (case, team, open) = if t == pb::CaseRegistered::full_name() {
            let e = pb::CaseRegistered::decode(payload)?;
            // Older events carry none.
            if !e.applicant_id.is_empty() {
                applicant = Some(id("applicant_id", &e.applicant_id)?);
            }
            (e.case_id, e.team_id, true)
        } else if t == pb::CaseClosed::full_name() {
            let e = pb::CaseClosed::decode(payload)?;
            (e.case_id, e.team_id, false)
        } else if t == pb::CaseReopened::full_name() {
            let e = pb::CaseReopened::decode(payload)?;
            (e.case_id, e.team_id, true)
        } else {
            return Ok(());
        };
        let row = CaseRow {
            id: CaseId(id("case_id", &case)?),
            team_id: TeamId(id("team_id", &team)?),
            open,
        };
        cases::upsert(conn, row, at).await?;
        if let Some(applicant) = applicant {
            cases::set_applicant(conn, row.id, applicant).await?;
        }
        if !open {
            // The case's open referrals close; the partners learn it from partner's feed.
            let changes = close_referrals_of(conn, row.id, at).await?;
            for change in &changes {
                // About the partner: its systems' change stream reads them by partner.
                let partner = id("partner_id", &change.partner_id)?;
                self.outbox.append(conn, partner, at, change).await?;
            }
            if !changes.is_empty() {
                self.outbox.announce(conn).await?;
            }
        }
        Ok(())
    }
}
