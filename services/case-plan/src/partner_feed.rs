//! partner's events, applied to case-plan: the plan step a referral is for links to it, and
//! the case's timeline shows each change (sent, waiting, accepted, declined, finished with the
//! partner's outcome, withdrawn, closed). Applied in the subscriber's transaction: exactly once.

use fallwerk_platform::{
    feed::subscriber::{ApplyError, EventHandler},
    wire,
};
use fallwerk_proto::{feed::Event, partner as pb};
use prost::{Message, Name};
use sqlx::PgConnection;

use crate::{
    domain::{CaseId, StepId, TimelineKind},
    store::{referrals, timeline},
};

/// The event types case-plan takes from partner.
pub fn event_types() -> Vec<String> {
    vec![pb::ReferralChanged::full_name()]
}

/// Applies partner's events.
#[derive(Debug, Default)]
pub struct PartnerEvents;

fn id(field: &str, value: &str) -> Result<uuid::Uuid, ApplyError> {
    wire::id(value).map_err(|e| ApplyError::Poison(format!("{field} {e}")))
}

impl EventHandler for PartnerEvents {
    async fn apply(&self, conn: &mut PgConnection, event: &Event) -> Result<(), ApplyError> {
        if event.event_type != pb::ReferralChanged::full_name() {
            return Ok(());
        }
        let payload = event
            .payload
            .as_ref()
            .map(|any| any.value.as_slice())
            .unwrap_or_default();
        let changed = pb::ReferralChanged::decode(payload)?;
        let at = wire::datetime(changed.occur_time.as_ref())
            .ok_or_else(|| ApplyError::Poison("ReferralChanged without occur_time".into()))?;
        let state = pb::ReferralState::try_from(changed.state)
            .map_err(|_| ApplyError::Poison(format!("unknown referral state {}", changed.state)))?;
        let case = CaseId(id("case_id", &changed.case_id)?);
        let referral = id("referral_id", &changed.referral_id)?;
        let link = referrals::StepReferral {
            referral_id: referral,
            case_id: case,
            step_id: StepId(id("step_id", &changed.step_id)?),
            partner_id: id("partner_id", &changed.partner_id)?,
            state: state.as_str_name().to_owned(),
        };
        referrals::upsert(conn, &link, at).await?;
        let outcome = pb::ReferralOutcome::try_from(changed.outcome)
            .ok()
            .filter(|o| *o != pb::ReferralOutcome::Unspecified);
        timeline::append(
            conn,
            case,
            TimelineKind::ReferralChanged,
            at,
            "partner",
            &referral.to_string(),
            &summary(state, outcome),
        )
        .await?;
        Ok(())
    }
}

/// The timeline's words for a referral's change.
fn summary(state: pb::ReferralState, outcome: Option<pb::ReferralOutcome>) -> String {
    use pb::ReferralState::*;
    let what = match state {
        Sent => "Zuweisung an den Partner gesendet",
        Waiting => "Zuweisung auf der Warteliste",
        Accepted => "Zuweisung vom Partner angenommen",
        InProgress => "Maßnahme begonnen",
        Declined => "Zuweisung vom Partner abgelehnt",
        Completed => "Maßnahme abgeschlossen",
        EndedEarly => "Maßnahme vorzeitig beendet",
        Withdrawn => "Zuweisung zurückgenommen",
        Closed => "Zuweisung mit dem Fall geschlossen",
        Unspecified => "Zuweisung geändert",
    };
    let outcome = match outcome {
        Some(pb::ReferralOutcome::Completed) => " (Rückmeldung: abgeschlossen)",
        Some(pb::ReferralOutcome::StoppedAttending) => " (Rückmeldung: nicht mehr teilgenommen)",
        Some(pb::ReferralOutcome::NotSuitable) => " (Rückmeldung: nicht geeignet)",
        Some(pb::ReferralOutcome::Other) => " (Rückmeldung: anderer Grund)",
        _ => "",
    };
    format!("{what}{outcome}")
}
