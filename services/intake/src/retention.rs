//! intake's retention rules: a visit that led to no case is erased a period after its arrival;
//! the person (applicant) a period after their last visit or change, once case-plan has erased
//! every case of theirs. Erasing a person is announced as `ApplicantErased`, which case-plan
//! (and through it partner) follow.

use chrono::{DateTime, Utc};
use fallwerk_platform::{
    retention::{Erasure, Period, RecordClass, Retention},
    wire,
};
use fallwerk_proto::intake as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{domain::ApplicantId, store::erasure};

/// Visits that led to no case, counted from the arrival.
pub const VISIT_WITHOUT_CASE: RecordClass = RecordClass {
    name: "visit_without_case",
    env: "RETENTION_VISIT_WITHOUT_CASE",
    default_period: Period::Months(6),
    counted_from: "after the arrival, for visits that led to no case",
};

/// Applicants, counted from their last visit or change.
pub const APPLICANT: RecordClass = RecordClass {
    name: "applicant",
    env: "RETENTION_APPLICANT",
    default_period: Period::Months(6),
    counted_from: "after the last visit or change, once every case of theirs is erased",
};

/// intake's rules for `<service> retention run`.
pub struct Rules;

impl Retention for Rules {
    const CLASSES: &'static [RecordClass] = &[VISIT_WITHOUT_CASE, APPLICANT];

    async fn due(
        &self,
        conn: &mut PgConnection,
        class: &RecordClass,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        if class.name == APPLICANT.name {
            erasure::due_applicants(conn, cutoff, None).await
        } else {
            erasure::due_visits(conn, cutoff, None).await
        }
    }

    async fn erase(
        &self,
        erasure: &mut Erasure<'_>,
        class: &RecordClass,
        id: Uuid,
        cutoff: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let now = erasure.now;
        if class.name == APPLICANT.name {
            if erasure::due_applicants(erasure.conn(), cutoff, Some(id))
                .await?
                .is_empty()
            {
                return Ok(false);
            }
            erasure::erase_applicant(erasure.conn(), ApplicantId(id), now).await?;
            let event = pb::ApplicantErased {
                applicant_id: id.to_string(),
                erase_time: Some(wire::timestamp(now)),
            };
            erasure.event(id, &event).await?;
        } else {
            if erasure::due_visits(erasure.conn(), cutoff, Some(id))
                .await?
                .is_empty()
            {
                return Ok(false);
            }
            erasure::erase_visits(erasure.conn(), &[id], now).await?;
        }
        Ok(true)
    }
}
