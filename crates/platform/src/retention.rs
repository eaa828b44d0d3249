//! Retention and erasure: each service names its record classes of personal data with a
//! retention period ([`RecordClass`], periods from `RETENTION_<CLASS>`), finds the records whose
//! period is over and erases their personal data ([`Retention`]), one record per transaction,
//! leaving a row in `<schema>.erasure_proof` for each ([`ErasureProof`]). `<service> retention
//! run [--dry-run]` runs it (a Kubernetes CronJob in a cluster); an erasure that other services
//! must follow travels as an event in the same transaction, and their feed handlers erase and
//! prove in theirs.
//!
//! Erasing keeps what the statistics count (states, days, outcomes) and removes what says who
//! the person is or what they told the office: figures still add up after a run.

use std::{fmt, str::FromStr, sync::Arc};

use chrono::{DateTime, Days, Months, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{config::ConfigError, outbox::Outbox};

/// A class of records that share a retention rule.
#[derive(Debug)]
pub struct RecordClass {
    /// Short name (`closed_case`), in the proof and the run's report.
    pub name: &'static str,
    /// The environment variable that sets its period (`RETENTION_CLOSED_CASE`).
    pub env: &'static str,
    /// The period when none is configured.
    pub default_period: Period,
    /// What the period counts from, in words ("after the follow-up").
    pub counted_from: &'static str,
}

/// A retention period: a whole number of years, months or days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Calendar years.
    Years(u32),
    /// Calendar months.
    Months(u32),
    /// Days.
    Days(u32),
}

impl Period {
    /// The instant a record's reference time must lie before for its period to be over at
    /// `now`; `None` when that is before the calendar's start (nothing is due).
    pub fn cutoff(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Period::Years(n) => now.checked_sub_months(Months::new(n.checked_mul(12)?)),
            Period::Months(n) => now.checked_sub_months(Months::new(n)),
            Period::Days(n) => now.checked_sub_days(Days::new(u64::from(n))),
        }
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        let unit_at = value.len().saturating_sub(1);
        let (amount, unit) = (value.get(..unit_at), value.get(unit_at..));
        let amount: u32 = amount
            .filter(|a| !a.is_empty())
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("{value:?}: expected a number and y, m or d (e.g. 10y)"))?;
        match unit {
            Some("y") => Ok(Period::Years(amount)),
            Some("m") => Ok(Period::Months(amount)),
            Some("d") => Ok(Period::Days(amount)),
            _ => Err(format!(
                "{value:?}: the unit is y (years), m (months) or d (days)"
            )),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Years(n) => write!(f, "{n}y"),
            Period::Months(n) => write!(f, "{n}m"),
            Period::Days(n) => write!(f, "{n}d"),
        }
    }
}

/// The stored answers of idempotent creates (every service's): they repeat the created record,
/// personal data included, and are only needed while a client may retry.
pub const IDEMPOTENCY_ANSWER: RecordClass = RecordClass {
    name: "idempotency_answer",
    env: "RETENTION_IDEMPOTENCY_ANSWER",
    default_period: Period::Days(7),
    counted_from: "after the create they answer",
};

/// A service's rules: which records of each class are due, and how one is erased.
pub trait Retention: Send + Sync {
    /// The service's record classes.
    const CLASSES: &'static [RecordClass];

    /// The ids of `class` records whose reference time lies before `cutoff` and that nothing
    /// keeps (a legal hold, an open case), oldest first.
    fn due(
        &self,
        conn: &mut PgConnection,
        class: &RecordClass,
        cutoff: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<Uuid>, sqlx::Error>> + Send;

    /// Erases record `id` of `class` in `erasure`'s transaction; `false` when it is no longer
    /// due (changed since [`Retention::due`] listed it), and then nothing is written.
    fn erase(
        &self,
        erasure: &mut Erasure<'_>,
        class: &RecordClass,
        id: Uuid,
        cutoff: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool, sqlx::Error>> + Send;
}

/// The rules of a service with no record class of its own: it erases only what other
/// services' erasure events name (a run finds nothing).
pub struct FollowsEvents;

impl Retention for FollowsEvents {
    const CLASSES: &'static [RecordClass] = &[];

    async fn due(
        &self,
        _conn: &mut PgConnection,
        _class: &RecordClass,
        _cutoff: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        Ok(Vec::new())
    }

    async fn erase(
        &self,
        _erasure: &mut Erasure<'_>,
        _class: &RecordClass,
        _id: Uuid,
        _cutoff: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        Ok(false)
    }
}

/// One record's erasure under way: its transaction and the outbox for the events that carry
/// it to other services.
pub struct Erasure<'c> {
    conn: &'c mut PgConnection,
    outbox: &'c Outbox,
    /// When the erasure happens.
    pub now: DateTime<Utc>,
}

impl Erasure<'_> {
    /// The transaction's connection.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.conn
    }

    /// Appends an event about `aggregate` (e.g. `ApplicantErased`) in the transaction.
    pub async fn event<E: prost::Name>(
        &mut self,
        aggregate: Uuid,
        event: &E,
    ) -> Result<(), sqlx::Error> {
        self.outbox
            .append(self.conn, aggregate, self.now, event)
            .await?;
        Ok(())
    }
}

/// Appends to `<schema>.erasure_proof`.
#[derive(Clone)]
pub struct ErasureProof {
    insert: Arc<str>,
}

/// One row of the proof of deletion.
#[derive(Clone, Debug)]
pub struct Proven<'a> {
    /// The run, or the event that carried the erasure.
    pub run_id: Uuid,
    /// The record's class.
    pub class: &'a str,
    /// The record.
    pub record_id: Uuid,
    /// The rule that applied, in words.
    pub rule: &'a str,
    /// `retention` or the event's full name.
    pub cause: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

impl ErasureProof {
    /// The proof table of `schema`.
    pub fn new(schema: &str) -> Self {
        ErasureProof {
            insert: format!(
                "INSERT INTO {schema}.erasure_proof (run_id, record_class, record_id, rule, cause, erased_at)
                 VALUES ($1, $2, $3, $4, $5, $6)"
            )
            .into(),
        }
    }

    /// Records that `proven.record_id` was erased, in `conn`'s transaction.
    pub async fn record(
        &self,
        conn: &mut PgConnection,
        proven: &Proven<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(Arc::clone(&self.insert)))
            .bind(proven.run_id)
            .bind(proven.class)
            .bind(proven.record_id)
            .bind(proven.rule)
            .bind(proven.cause)
            .bind(proven.at)
            .execute(conn)
            .await?;
        metrics::counter!(
            "retention_records_erased_total",
            "class" => proven.class.to_owned(),
            "cause" => proven.cause.to_owned()
        )
        .increment(1);
        Ok(())
    }
}

/// Where a run takes its periods from.
#[derive(Clone, Debug, Default)]
pub enum Periods {
    /// `RETENTION_<CLASS>` or the class's default.
    #[default]
    FromEnvironment,
    /// These, by class name (tests); others take their default.
    Given(Vec<(String, Period)>),
}

impl Periods {
    fn of(&self, class: &RecordClass) -> Result<Period, ConfigError> {
        match self {
            Periods::FromEnvironment => match std::env::var(class.env) {
                Ok(value) => value.parse().map_err(|problem| ConfigError {
                    setting: class.env,
                    problem,
                }),
                Err(_) => Ok(class.default_period),
            },
            Periods::Given(given) => Ok(given
                .iter()
                .find(|(name, _)| name == class.name)
                .map_or(class.default_period, |(_, period)| *period)),
        }
    }
}

/// A retention run of one service, as `<service> retention run` or a test starts it.
pub struct Run {
    /// The service's database.
    pub pool: PgPool,
    /// The service's schema.
    pub schema: &'static str,
    /// The time the periods count back from.
    pub now: DateTime<Utc>,
    /// Only list what is due.
    pub dry_run: bool,
    /// The periods.
    pub periods: Periods,
}

/// What a run found and did in one class.
#[derive(Debug)]
pub struct ClassReport {
    /// The class.
    pub class: &'static str,
    /// The rule that applied, in words with its period.
    pub rule: String,
    /// Records whose period was over.
    pub due: Vec<Uuid>,
    /// Of those, erased (0 in a dry run; fewer when one changed since it was listed).
    pub erased: usize,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// The run's id, as in the proof.
    pub run_id: Uuid,
    /// Whether it only listed.
    pub dry_run: bool,
    /// Per class.
    pub classes: Vec<ClassReport>,
    /// Stored answers of idempotent creates deleted (in a dry run: that would be).
    pub idempotency_answers: u64,
    /// Their rule.
    pub idempotency_rule: String,
}

/// Why a run did not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A period setting is malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed (records erased before stay erased and proven).
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl Run {
    /// Runs `retention`'s classes in order: lists the due records of each and, unless a dry
    /// run, erases each in a transaction of its own with its proof.
    pub async fn execute<R: Retention>(self, retention: R) -> Result<Report, RunError> {
        let periods = R::CLASSES
            .iter()
            .map(|class| self.periods.of(class))
            .collect::<Result<Vec<_>, _>>()?;
        let answers_period = self.periods.of(&IDEMPOTENCY_ANSWER)?;
        let run_id = Uuid::now_v7();
        let outbox = Outbox::new(self.schema);
        let proof = ErasureProof::new(self.schema);
        let mut classes = Vec::with_capacity(R::CLASSES.len());
        for (class, period) in R::CLASSES.iter().zip(periods) {
            let rule = format!("{}: {period} {}", class.name, class.counted_from);
            let Some(cutoff) = period.cutoff(self.now) else {
                classes.push(ClassReport {
                    class: class.name,
                    rule,
                    due: Vec::new(),
                    erased: 0,
                });
                continue;
            };
            let due = retention
                .due(&mut *self.pool.acquire().await?, class, cutoff)
                .await?;
            let mut erased = 0;
            if !self.dry_run {
                for &id in &due {
                    let mut tx = self.pool.begin().await?;
                    let mut erasure = Erasure {
                        conn: &mut tx,
                        outbox: &outbox,
                        now: self.now,
                    };
                    if !retention.erase(&mut erasure, class, id, cutoff).await? {
                        continue;
                    }
                    let proven = Proven {
                        run_id,
                        class: class.name,
                        record_id: id,
                        rule: &rule,
                        cause: "retention",
                        at: self.now,
                    };
                    proof.record(&mut tx, &proven).await?;
                    // This process is not the server: wake its sequencers for the events.
                    outbox.announce(&mut tx).await?;
                    tx.commit().await?;
                    erased += 1;
                }
            }
            tracing::info!(
                class = class.name,
                rule,
                due = due.len(),
                erased,
                dry_run = self.dry_run,
                "retention class done"
            );
            classes.push(ClassReport {
                class: class.name,
                rule,
                due,
                erased,
            });
        }
        let idempotency_answers = match answers_period.cutoff(self.now) {
            Some(cutoff) => self.purge_idempotency_answers(cutoff).await?,
            None => 0,
        };
        Ok(Report {
            run_id,
            dry_run: self.dry_run,
            classes,
            idempotency_answers,
            idempotency_rule: format!(
                "{}: {answers_period} {}",
                IDEMPOTENCY_ANSWER.name, IDEMPOTENCY_ANSWER.counted_from
            ),
        })
    }

    /// Deletes (in a dry run: counts) the answers stored before `cutoff`. They are no record of
    /// a person, so no proof is kept; the run's report and log give the count.
    async fn purge_idempotency_answers(&self, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let schema = self.schema;
        let statement = if self.dry_run {
            format!("SELECT count(*) FROM {schema}.idempotency WHERE created_at < $1")
        } else {
            format!(
                "WITH gone AS (DELETE FROM {schema}.idempotency WHERE created_at < $1 RETURNING 1)
                 SELECT count(*) FROM gone"
            )
        };
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
            .bind(cutoff)
            .fetch_one(&self.pool)
            .await?;
        tracing::info!(
            class = IDEMPOTENCY_ANSWER.name,
            count,
            dry_run = self.dry_run,
            "retention class done"
        );
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_with_their_unit() {
        assert_eq!("10y".parse(), Ok(Period::Years(10)));
        assert_eq!("6m".parse(), Ok(Period::Months(6)));
        assert_eq!(" 30d ".parse(), Ok(Period::Days(30)));
        for bad in ["", "y", "10", "10w", "-1y", "1.5y", "10 y"] {
            assert!(bad.parse::<Period>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_period_counts_back_in_calendar_units() {
        let now = "2026-03-31T12:00:00Z"
            .parse::<DateTime<Utc>>()
            .expect("now");
        let cutoff = |p: Period| p.cutoff(now).expect("cutoff").to_rfc3339();
        assert_eq!(cutoff(Period::Years(10)), "2016-03-31T12:00:00+00:00");
        // The last day of a shorter month, not an overflow into the next.
        assert_eq!(cutoff(Period::Months(1)), "2026-02-28T12:00:00+00:00");
        assert_eq!(cutoff(Period::Days(31)), "2026-02-28T12:00:00+00:00");
        assert_eq!(Period::Years(u32::MAX).cutoff(now), None);
    }
}
