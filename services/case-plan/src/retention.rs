//! case-plan's retention rule: a closed case is erased a period after its follow-up unless a
//! legal hold keeps it; a case of a client intake erased goes with them. Each erasure is
//! announced as `CaseErased` (partner erases its part; intake may then erase the client).

use chrono::{DateTime, Utc};
use fallwerk_platform::{
    clock::office_day,
    retention::{Erasure, Period, RecordClass, Retention},
    wire,
};
use fallwerk_proto::caseplan as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{domain::CaseId, store::erasure};

/// Closed cases, counted from the follow-up.
pub const CLOSED_CASE: RecordClass = RecordClass {
    name: "closed_case",
    env: "RETENTION_CLOSED_CASE",
    default_period: Period::Years(10),
    counted_from: "after the follow-up, unless on legal hold",
};

/// case-plan's rules for `<service> retention run`.
pub struct Rules;

impl Retention for Rules {
    const CLASSES: &'static [RecordClass] = &[CLOSED_CASE];

    async fn due(
        &self,
        conn: &mut PgConnection,
        _class: &RecordClass,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        erasure::due_cases(conn, office_day(cutoff)).await
    }

    async fn erase(
        &self,
        erasure: &mut Erasure<'_>,
        _class: &RecordClass,
        id: Uuid,
        cutoff: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let now = erasure.now;
        let Some(event) = erase_case(erasure.conn(), CaseId(id), Some(cutoff), now).await? else {
            return Ok(false);
        };
        erasure.event(id, &event).await?;
        Ok(true)
    }
}

/// Erases case `id` (closed, not held; with `cutoff`, only when its period is over then); the
/// event that announces it, when it did.
pub async fn erase_case(
    conn: &mut PgConnection,
    id: CaseId,
    cutoff: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<pb::CaseErased>, sqlx::Error> {
    let erased = erasure::erase_case(conn, id, cutoff.map(office_day), now).await?;
    Ok(erased.map(|applicant| pb::CaseErased {
        case_id: id.to_string(),
        applicant_id: applicant.to_string(),
        erase_time: Some(wire::timestamp(now)),
    }))
}
