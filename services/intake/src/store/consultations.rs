//! First consultations and their outcomes.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::visits::VisitRow;
use crate::domain::{
    ActivationTrack, AdvisorId, ApplicantId, Barrier, CapacityBasis, CapacityToWork,
    ConsultationId, ConsultationOutcome, ConsultationState, TeamId, VisitId,
};

/// A consultation as stored.
#[derive(Debug, Clone)]
pub struct ConsultationRow {
    /// Id.
    pub id: ConsultationId,
    /// The visit it belongs to.
    pub visit_id: VisitId,
    /// Who was advised.
    pub applicant_id: ApplicantId,
    /// The visit's team.
    pub team_id: TeamId,
    /// The consulting advisor.
    pub advisor_id: AdvisorId,
    /// Where it stands.
    pub state: ConsultationState,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// Whether it started on the office day of arrival.
    pub same_day: bool,
    /// Completion.
    pub completed_at: Option<DateTime<Utc>>,
    /// The outcome, once completed.
    pub outcome: Option<ConsultationOutcome>,
}

/// The row as PostgreSQL returns it: the outcome's columns are still apart.
struct Stored {
    id: ConsultationId,
    visit_id: VisitId,
    applicant_id: ApplicantId,
    team_id: TeamId,
    advisor_id: AdvisorId,
    state: ConsultationState,
    started_at: DateTime<Utc>,
    same_day: bool,
    completed_at: Option<DateTime<Utc>>,
    first_steps: Vec<String>,
    self_help_options: Vec<String>,
    office_offers: Vec<String>,
    capacity_to_work: Option<CapacityToWork>,
    capacity_basis: Option<CapacityBasis>,
    activation_track: Option<ActivationTrack>,
    barriers: Vec<Barrier>,
    notes: String,
}

impl Stored {
    fn parse(self) -> Result<ConsultationRow, sqlx::Error> {
        let outcome = match (self.state, self.capacity_to_work, self.activation_track) {
            (ConsultationState::InProgress, _, _) => None,
            (ConsultationState::Completed, Some(capacity_to_work), Some(activation_track)) => {
                Some(ConsultationOutcome {
                    first_steps: self.first_steps,
                    self_help_options: self.self_help_options,
                    office_offers: self.office_offers,
                    capacity_to_work,
                    capacity_basis: self.capacity_basis,
                    activation_track,
                    barriers: self.barriers,
                    notes: self.notes,
                })
            }
            (ConsultationState::Completed, _, _) => {
                return Err(sqlx::Error::Decode(
                    "a completed consultation without its assessment".into(),
                ));
            }
        };
        Ok(ConsultationRow {
            id: self.id,
            visit_id: self.visit_id,
            applicant_id: self.applicant_id,
            team_id: self.team_id,
            advisor_id: self.advisor_id,
            state: self.state,
            started_at: self.started_at,
            same_day: self.same_day,
            completed_at: self.completed_at,
            outcome,
        })
    }
}

/// A consultation as it starts.
#[derive(Debug)]
pub struct NewConsultation<'a> {
    /// Id.
    pub id: ConsultationId,
    /// The visit.
    pub visit: &'a VisitRow,
    /// The consulting advisor.
    pub advisor: AdvisorId,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// The office day of the start.
    pub start_day: NaiveDate,
    /// Whether that is the day of arrival.
    pub same_day: bool,
}

/// Inserts a consultation in progress.
#[tracing::instrument(name = "INSERT intake.consultations", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "consultations"))]
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewConsultation<'_>,
) -> Result<ConsultationRow, sqlx::Error> {
    let stored = sqlx::query_as!(
        Stored,
        r#"INSERT INTO intake.consultations (id, visit_id, applicant_id, team_id, advisor_id, state, started_at, start_day, same_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id AS "id: ConsultationId", visit_id AS "visit_id: VisitId",
             applicant_id AS "applicant_id: ApplicantId", team_id AS "team_id: TeamId",
             advisor_id AS "advisor_id: AdvisorId", state AS "state: ConsultationState", started_at,
             same_day, completed_at, first_steps, self_help_options, office_offers,
             capacity_to_work AS "capacity_to_work: CapacityToWork",
             capacity_basis AS "capacity_basis: CapacityBasis",
             activation_track AS "activation_track: ActivationTrack",
             barriers AS "barriers: Vec<Barrier>", notes"#,
        new.id.0,
        new.visit.id.0,
        new.visit.applicant_id.0,
        new.visit.team_id.0,
        new.advisor.0,
        ConsultationState::InProgress.as_str(),
        new.started_at,
        new.start_day,
        new.same_day,
    )
    .fetch_one(conn)
    .await?;
    stored.parse()
}

/// Reads a consultation.
#[tracing::instrument(name = "SELECT intake.consultations", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "consultations"))]
pub async fn get(
    conn: &mut PgConnection,
    id: ConsultationId,
) -> Result<Option<ConsultationRow>, sqlx::Error> {
    let stored = sqlx::query_as!(
        Stored,
        r#"SELECT id AS "id: ConsultationId", visit_id AS "visit_id: VisitId",
             applicant_id AS "applicant_id: ApplicantId", team_id AS "team_id: TeamId",
             advisor_id AS "advisor_id: AdvisorId", state AS "state: ConsultationState", started_at,
             same_day, completed_at, first_steps, self_help_options, office_offers,
             capacity_to_work AS "capacity_to_work: CapacityToWork",
             capacity_basis AS "capacity_basis: CapacityBasis",
             activation_track AS "activation_track: ActivationTrack",
             barriers AS "barriers: Vec<Barrier>", notes
         FROM intake.consultations WHERE id = $1"#,
        id.0
    )
    .fetch_optional(conn)
    .await?;
    stored.map(Stored::parse).transpose()
}

/// Reads a consultation and locks it for a change in this transaction.
#[tracing::instrument(name = "SELECT intake.consultations", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "consultations"))]
pub async fn lock(
    conn: &mut PgConnection,
    id: ConsultationId,
) -> Result<Option<ConsultationRow>, sqlx::Error> {
    let stored = sqlx::query_as!(
        Stored,
        r#"SELECT id AS "id: ConsultationId", visit_id AS "visit_id: VisitId",
             applicant_id AS "applicant_id: ApplicantId", team_id AS "team_id: TeamId",
             advisor_id AS "advisor_id: AdvisorId", state AS "state: ConsultationState", started_at,
             same_day, completed_at, first_steps, self_help_options, office_offers,
             capacity_to_work AS "capacity_to_work: CapacityToWork",
             capacity_basis AS "capacity_basis: CapacityBasis",
             activation_track AS "activation_track: ActivationTrack",
             barriers AS "barriers: Vec<Barrier>", notes
         FROM intake.consultations WHERE id = $1 FOR UPDATE"#,
        id.0
    )
    .fetch_optional(conn)
    .await?;
    stored.map(Stored::parse).transpose()
}

/// Records the outcome and moves the consultation to `state`.
#[tracing::instrument(name = "UPDATE intake.consultations", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "consultations"))]
pub async fn complete(
    conn: &mut PgConnection,
    id: ConsultationId,
    state: ConsultationState,
    outcome: &ConsultationOutcome,
    completed_at: DateTime<Utc>,
) -> Result<ConsultationRow, sqlx::Error> {
    let barriers: Vec<String> = outcome
        .barriers
        .iter()
        .map(|b| b.as_str().to_owned())
        .collect();
    let stored = sqlx::query_as!(
        Stored,
        r#"UPDATE intake.consultations SET state = $2, completed_at = $3, first_steps = $4,
             self_help_options = $5, office_offers = $6, capacity_to_work = $7, activation_track = $8,
             barriers = $9, notes = $10, capacity_basis = $11
         WHERE id = $1
         RETURNING id AS "id: ConsultationId", visit_id AS "visit_id: VisitId",
             applicant_id AS "applicant_id: ApplicantId", team_id AS "team_id: TeamId",
             advisor_id AS "advisor_id: AdvisorId", state AS "state: ConsultationState", started_at,
             same_day, completed_at, first_steps, self_help_options, office_offers,
             capacity_to_work AS "capacity_to_work: CapacityToWork",
             capacity_basis AS "capacity_basis: CapacityBasis",
             activation_track AS "activation_track: ActivationTrack",
             barriers AS "barriers: Vec<Barrier>", notes"#,
        id.0,
        state.as_str(),
        completed_at,
        &outcome.first_steps,
        &outcome.self_help_options,
        &outcome.office_offers,
        outcome.capacity_to_work.as_str(),
        outcome.activation_track.as_str(),
        &barriers,
        outcome.notes,
        outcome.capacity_basis.map(CapacityBasis::as_str),
    )
    .fetch_one(conn)
    .await?;
    stored.parse()
}
