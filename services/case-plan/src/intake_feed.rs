//! intake's events, applied to case-plan's own tables: a case from `CaseOpened`, the roster
//! from `AdvisorChanged`, the client's facts from `ApplicantUpdated`. Each is applied inside the
//! subscriber's transaction that also advances its cursor, so it takes effect exactly once;
//! the inserts are idempotent by id all the same.

use fallwerk_platform::{
    feed::{
        Feed,
        subscriber::{ApplyError, EventHandler},
    },
    outbox::Outbox,
    retention::{ErasureProof, Proven},
    wire,
};
use fallwerk_proto::{caseplan, feed::Event, intake as pb};
use prost::{Message, Name};
use sqlx::PgConnection;

use crate::{
    domain::{AdvisorId, ApplicantId, Barrier, CaseId, ConsultationId, TeamId, TimelineKind},
    retention,
    store::{
        advisors::{self, AdvisorRow},
        cases::{self, ClientRow, FirstConsultationRow, NewCase},
        erasure, timeline,
    },
};

/// case-plan consumes intake's feed (the upstream named `intake` in `UPSTREAMS`).
pub fn feeds() -> Vec<Feed> {
    vec![Feed::new(
        "intake",
        vec![
            pb::CaseOpened::full_name(),
            pb::AdvisorChanged::full_name(),
            pb::ApplicantUpdated::full_name(),
            pb::ApplicantErased::full_name(),
        ],
        IntakeEvents {
            outbox: Outbox::new(crate::SCHEMA),
            proof: ErasureProof::new(crate::SCHEMA),
        },
    )]
}

/// Applies intake's events; a case taken over is announced on case-plan's own feed.
pub struct IntakeEvents {
    outbox: Outbox,
    proof: ErasureProof,
}

impl IntakeEvents {
    /// intake erased the client: their cases go too (intake erases a client only once case-plan
    /// has erased every case, so normally nothing is left). A case still open or on legal hold
    /// is kept, and said so loudly: the hold wins over the erasure.
    async fn erase_cases_of(
        &self,
        conn: &mut PgConnection,
        applicant: ApplicantId,
        event: &Event,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApplyError> {
        let run_id = id("event_id", &event.event_id)?;
        let cause = pb::ApplicantErased::full_name();
        for case in erasure::cases_of(conn, applicant).await? {
            let Some(erased) = retention::erase_case(conn, CaseId(case), None, at).await? else {
                tracing::warn!(case_id = %case, "a case of an erased client is open or on legal hold: kept");
                continue;
            };
            let proven = Proven {
                run_id,
                class: retention::CLOSED_CASE.name,
                record_id: case,
                rule: "closed_case: erased with its client at intake",
                cause: &cause,
                at,
            };
            self.proof.record(conn, &proven).await?;
            self.outbox.append(conn, case, at, &erased).await?;
            self.outbox.announce(conn).await?;
        }
        Ok(())
    }
}

impl EventHandler for IntakeEvents {
    async fn apply(&self, conn: &mut PgConnection, event: &Event) -> Result<(), ApplyError> {
        let payload = event
            .payload
            .as_ref()
            .map(|any| any.value.as_slice())
            .unwrap_or_default();
        let at = wire::datetime(event.occur_time.as_ref())
            .ok_or_else(|| ApplyError::Poison("the event has no occur_time".into()))?;
        match event.event_type.as_str() {
            t if t == pb::CaseOpened::full_name() => {
                let case = new_case(pb::CaseOpened::decode(payload)?)?;
                if cases::insert(conn, &case).await? {
                    timeline::append(
                        conn,
                        case.id,
                        TimelineKind::Opened,
                        case.opened_at,
                        "intake",
                        "",
                        "Fall bei der Erstberatung eröffnet",
                    )
                    .await?;
                    // partner learns of the case from case-plan, which owns it from here.
                    let registered = caseplan::CaseRegistered {
                        case_id: case.id.to_string(),
                        team_id: case.team_id.to_string(),
                        responsible_advisor_id: case.responsible_advisor_id.to_string(),
                        open_time: Some(wire::timestamp(case.opened_at)),
                        applicant_id: case.applicant_id.to_string(),
                    };
                    self.outbox
                        .append(conn, case.id.0, case.opened_at, &registered)
                        .await?;
                    self.outbox.announce(conn).await?;
                    metrics::counter!("caseplan_cases_received_total").increment(1);
                }
            }
            t if t == pb::AdvisorChanged::full_name() => {
                let advisor = advisor(pb::AdvisorChanged::decode(payload)?)?;
                advisors::upsert(conn, &advisor, at).await?;
            }
            t if t == pb::ApplicantUpdated::full_name() => {
                let updated = pb::ApplicantUpdated::decode(payload)?;
                let applicant = ApplicantId(id("applicant_id", &updated.applicant_id)?);
                // An update without the facts (an older intake) leaves the copy as it is.
                if let Some(client) = updated.client {
                    cases::update_client(conn, applicant, &client_row(client)?, at).await?;
                }
            }
            t if t == pb::ApplicantErased::full_name() => {
                let erased = pb::ApplicantErased::decode(payload)?;
                let applicant = ApplicantId(id("applicant_id", &erased.applicant_id)?);
                self.erase_cases_of(conn, applicant, event, at).await?;
            }
            // Types not asked for are filtered by the feed; a new one is nothing to do here.
            _ => {}
        }
        Ok(())
    }
}

fn id(field: &str, value: &str) -> Result<uuid::Uuid, ApplyError> {
    wire::id(value).map_err(|e| ApplyError::Poison(format!("{field} {e}")))
}

fn new_case(e: pb::CaseOpened) -> Result<NewCase, ApplyError> {
    let poison = |what: &str| ApplyError::Poison(format!("CaseOpened without a valid {what}"));
    let barriers = e
        .barriers
        .iter()
        .map(|b| wire::enum_value::<fallwerk_proto::types::Barrier, Barrier>(*b))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| poison("barriers"))?;
    Ok(NewCase {
        id: CaseId(id("case_id", &e.case_id)?),
        applicant_id: ApplicantId(id("applicant_id", &e.applicant_id)?),
        team_id: TeamId(id("team_id", &e.team_id)?),
        responsible_advisor_id: AdvisorId(id("responsible_advisor_id", &e.responsible_advisor_id)?),
        opened_at: wire::datetime(e.open_time.as_ref()).ok_or_else(|| poison("open_time"))?,
        client: client_row(e.client.ok_or_else(|| poison("client"))?)?,
        consultation: FirstConsultationRow {
            consultation_id: ConsultationId(id("consultation_id", &e.consultation_id)?),
            consulting_advisor_id: AdvisorId(id(
                "consulting_advisor_id",
                &e.consulting_advisor_id,
            )?),
            started_at: wire::datetime(e.consultation_start_time.as_ref())
                .ok_or_else(|| poison("consultation_start_time"))?,
            arrived_at: wire::datetime(e.arrive_time.as_ref())
                .ok_or_else(|| poison("arrive_time"))?,
            same_day: e.same_day,
            first_steps: e.first_steps,
            self_help_options: e.self_help_options,
            office_offers: e.office_offers,
            capacity_to_work: wire::enum_value::<fallwerk_proto::types::CapacityToWork, _>(
                e.capacity_to_work,
            )
            .map_err(|_| poison("capacity_to_work"))?,
            activation_track: wire::enum_value::<fallwerk_proto::types::ActivationTrack, _>(
                e.activation_track,
            )
            .map_err(|_| poison("activation_track"))?,
            barriers,
        },
    })
}

fn client_row(c: pb::ClientFacts) -> Result<ClientRow, ApplyError> {
    Ok(ClientRow {
        birth_date: wire::BirthDate::from_wire(c.birth_date.as_ref())
            .map_err(|e| ApplyError::Poison(format!("client.birth_date {e}")))?,
        display_name: c.display_name,
        interpreter_language: c.interpreter_language,
        single_parent: c.single_parent,
        youngest_child_age: c
            .youngest_child_age
            .map(|age| i32::try_from(age).unwrap_or(i32::MAX)),
    })
}

fn advisor(e: pb::AdvisorChanged) -> Result<AdvisorRow, ApplyError> {
    Ok(AdvisorRow {
        id: AdvisorId(id("advisor_id", &e.advisor_id)?),
        team_id: TeamId(id("team_id", &e.team_id)?),
        subject: e.subject,
        display_name: e.display_name,
        active: e.active,
    })
}
