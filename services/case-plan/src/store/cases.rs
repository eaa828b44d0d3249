//! Cases: written from intake's CaseOpened events, read by the case's team, closed here.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fallwerk_platform::wire::{BirthDate, DatePrecision};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    ActivationTrack, AdvisorId, AgreementId, ApplicantId, Barrier, CapacityToWork, CaseId,
    CaseOutcome, CaseState, Closure, ConsultationId, FollowUpResult, LegalBasis, TeamId,
};

/// A case as stored.
#[derive(Debug, Clone)]
pub struct CaseRow {
    /// Id (intake's).
    pub id: CaseId,
    /// The client at intake.
    pub applicant_id: ApplicantId,
    /// The team.
    pub team_id: TeamId,
    /// The responsible advisor.
    pub responsible_advisor_id: AdvisorId,
    /// Where it stands.
    pub state: CaseState,
    /// When intake opened it.
    pub opened_at: DateTime<Utc>,
    /// The client.
    pub client: ClientRow,
    /// The first consultation.
    pub consultation: FirstConsultationRow,
    /// The law the assistance rests on, once determined.
    pub legal_basis: Option<LegalBasis>,
    /// The current plan revision (0: none).
    pub plan_revision: i32,
    /// The earliest due day of a planned step of the current plan.
    pub next_due_date: Option<NaiveDate>,
    /// Set once closed.
    pub closure: Option<ClosureRow>,
    /// Version for etags.
    pub version: i32,
    /// Last change here.
    pub updated_at: DateTime<Utc>,
    /// The next review of the plan.
    pub next_review_date: Option<NaiveDate>,
    /// The agreement in force.
    pub agreement_id: Option<AgreementId>,
    /// The earliest day something is due (what lists sort by); `None` when nothing is.
    pub urgency_date: Option<NaiveDate>,
    /// Set while a legal hold keeps the case past its retention period.
    pub legal_hold: Option<LegalHoldRow>,
}

/// A legal hold on a case.
#[derive(Debug, Clone)]
pub struct LegalHoldRow {
    /// Why.
    pub reason: String,
    /// Who placed it (token subject).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The stored urgency of a case with nothing due (migration 0003).
const NOTHING_DUE_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => NaiveDate::MAX,
};

impl CaseRow {
    /// Where the case sorts in a list, most urgent first: its urgency day (as days of the
    /// common era; nothing due sorts last), then its id.
    pub fn urgency_key(&self) -> (i64, Uuid) {
        let day = self.urgency_date.unwrap_or(NOTHING_DUE_DAY);
        (i64::from(day.num_days_from_ce()), self.id.0)
    }
}

/// The client facts a case carries.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// "given family".
    pub display_name: String,
    /// Date of birth, perhaps partly unknown.
    pub birth_date: BirthDate,
    /// BCP 47 tag, empty for none.
    pub interpreter_language: String,
    /// Raises children alone.
    pub single_parent: bool,
    /// Age of the youngest child.
    pub youngest_child_age: Option<i32>,
}

/// The first consultation a case comes from.
#[derive(Debug, Clone)]
pub struct FirstConsultationRow {
    /// Its id at intake.
    pub consultation_id: ConsultationId,
    /// Who consulted.
    pub consulting_advisor_id: AdvisorId,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When the person arrived.
    pub arrived_at: DateTime<Utc>,
    /// Started on the day of arrival.
    pub same_day: bool,
    /// First steps agreed.
    pub first_steps: Vec<String>,
    /// Self-help options discussed.
    pub self_help_options: Vec<String>,
    /// Office offers discussed.
    pub office_offers: Vec<String>,
    /// Capacity to work.
    pub capacity_to_work: CapacityToWork,
    /// Activation track.
    pub activation_track: ActivationTrack,
    /// Barriers.
    pub barriers: Vec<Barrier>,
}

/// A closure as stored.
#[derive(Debug, Clone)]
pub struct ClosureRow {
    /// What was asked.
    pub closure: Closure,
    /// When.
    pub closed_at: DateTime<Utc>,
    /// Who (token subject).
    pub closed_by: String,
    /// The follow-up, once recorded.
    pub follow_up: Option<FollowUpRow>,
}

/// A recorded follow-up.
#[derive(Debug, Clone)]
pub struct FollowUpRow {
    /// Whether the effect lasted.
    pub result: FollowUpResult,
    /// Note.
    pub note: String,
    /// When recorded.
    pub at: DateTime<Utc>,
    /// By whom (token subject).
    pub by: String,
}

/// A new case from intake's CaseOpened event.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Id.
    pub id: CaseId,
    /// Client at intake.
    pub applicant_id: ApplicantId,
    /// Team.
    pub team_id: TeamId,
    /// Responsible advisor.
    pub responsible_advisor_id: AdvisorId,
    /// When intake opened it.
    pub opened_at: DateTime<Utc>,
    /// The client.
    pub client: ClientRow,
    /// The first consultation.
    pub consultation: FirstConsultationRow,
}

/// Inserts a case unless it exists (events may be delivered twice); whether it was new.
#[tracing::instrument(name = "INSERT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "INSERT", db.collection.name = "cases"))]
pub async fn insert(conn: &mut PgConnection, case: &NewCase) -> Result<bool, sqlx::Error> {
    let c = &case.client;
    let f = &case.consultation;
    let barriers: Vec<String> = f.barriers.iter().map(|b| b.as_str().to_owned()).collect();
    let result = sqlx::query!(
        "INSERT INTO caseplan.cases (
             id, applicant_id, team_id, responsible_advisor_id, state, opened_at,
             client_display_name, client_birth_date, client_interpreter_language,
             client_single_parent, client_youngest_child_age,
             consultation_id, consulting_advisor_id, consultation_started_at, arrived_at, same_day,
             first_steps, self_help_options, office_offers, capacity_to_work, activation_track,
             barriers, updated_at, client_birth_date_precision)
         VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20, $21, $5, $22)
         ON CONFLICT (id) DO NOTHING",
        Uuid::from(case.id),
        Uuid::from(case.applicant_id),
        Uuid::from(case.team_id),
        Uuid::from(case.responsible_advisor_id),
        case.opened_at,
        c.display_name,
        c.birth_date.earliest,
        c.interpreter_language,
        c.single_parent,
        c.youngest_child_age,
        Uuid::from(f.consultation_id),
        Uuid::from(f.consulting_advisor_id),
        f.started_at,
        f.arrived_at,
        f.same_day,
        &f.first_steps,
        &f.self_help_options,
        &f.office_offers,
        f.capacity_to_work.as_str(),
        f.activation_track.as_str(),
        &barriers,
        c.birth_date.precision.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Updates the client facts of every case of `applicant` (intake's ApplicantUpdated).
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn update_client(
    conn: &mut PgConnection,
    applicant: ApplicantId,
    client: &ClientRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET client_display_name = $2, client_birth_date = $3,
             client_interpreter_language = $4, client_single_parent = $5,
             client_youngest_child_age = $6, version = version + 1, updated_at = $7,
             client_birth_date_precision = $8
         WHERE applicant_id = $1",
        Uuid::from(applicant),
        client.display_name,
        client.birth_date.earliest,
        client.interpreter_language,
        client.single_parent,
        client.youngest_child_age,
        at,
        client.birth_date.precision.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A case as the columns hold it, before its values are checked.
struct Columns {
    id: Uuid,
    applicant_id: Uuid,
    team_id: Uuid,
    responsible_advisor_id: Uuid,
    state: CaseState,
    opened_at: DateTime<Utc>,
    client_display_name: String,
    client_birth_date: NaiveDate,
    client_birth_date_precision: DatePrecision,
    client_interpreter_language: String,
    client_single_parent: bool,
    client_youngest_child_age: Option<i32>,
    consultation_id: Uuid,
    consulting_advisor_id: Uuid,
    consultation_started_at: DateTime<Utc>,
    arrived_at: DateTime<Utc>,
    same_day: bool,
    first_steps: Vec<String>,
    self_help_options: Vec<String>,
    office_offers: Vec<String>,
    capacity_to_work: CapacityToWork,
    activation_track: ActivationTrack,
    barriers: Vec<String>,
    legal_basis: Option<LegalBasis>,
    plan_revision: i32,
    next_due_date: Option<NaiveDate>,
    closure_outcome: Option<CaseOutcome>,
    closure_note: Option<String>,
    follow_up_date: Option<NaiveDate>,
    closed_at: Option<DateTime<Utc>>,
    closed_by: Option<String>,
    version: i32,
    updated_at: DateTime<Utc>,
    next_review_date: Option<NaiveDate>,
    agreement_id: Option<Uuid>,
    follow_up_result: Option<FollowUpResult>,
    follow_up_note: Option<String>,
    followed_up_at: Option<DateTime<Utc>>,
    followed_up_by: Option<String>,
    urgency_date: NaiveDate,
    legal_hold_reason: Option<String>,
    legal_hold_by: Option<String>,
    legal_hold_at: Option<DateTime<Utc>>,
}

impl TryFrom<Columns> for CaseRow {
    type Error = sqlx::Error;

    fn try_from(c: Columns) -> Result<Self, sqlx::Error> {
        let barriers = c
            .barriers
            .iter()
            .map(|b| b.parse())
            .collect::<Result<Vec<Barrier>, String>>()
            .map_err(|e| sqlx::Error::Decode(e.into()))?;
        let closure = match (c.closure_outcome, c.follow_up_date, c.closed_at) {
            (Some(outcome), Some(follow_up_date), Some(closed_at)) => Some(ClosureRow {
                closure: Closure {
                    outcome,
                    note: c.closure_note.unwrap_or_default(),
                    follow_up_date,
                },
                closed_at,
                closed_by: c.closed_by.unwrap_or_default(),
                follow_up: match (c.follow_up_result, c.followed_up_at) {
                    (Some(result), Some(at)) => Some(FollowUpRow {
                        result,
                        note: c.follow_up_note.unwrap_or_default(),
                        at,
                        by: c.followed_up_by.unwrap_or_default(),
                    }),
                    _ => None,
                },
            }),
            _ => None,
        };
        Ok(CaseRow {
            id: CaseId(c.id),
            applicant_id: ApplicantId(c.applicant_id),
            team_id: TeamId(c.team_id),
            responsible_advisor_id: AdvisorId(c.responsible_advisor_id),
            state: c.state,
            opened_at: c.opened_at,
            client: ClientRow {
                display_name: c.client_display_name,
                birth_date: BirthDate {
                    earliest: c.client_birth_date,
                    precision: c.client_birth_date_precision,
                },
                interpreter_language: c.client_interpreter_language,
                single_parent: c.client_single_parent,
                youngest_child_age: c.client_youngest_child_age,
            },
            consultation: FirstConsultationRow {
                consultation_id: ConsultationId(c.consultation_id),
                consulting_advisor_id: AdvisorId(c.consulting_advisor_id),
                started_at: c.consultation_started_at,
                arrived_at: c.arrived_at,
                same_day: c.same_day,
                first_steps: c.first_steps,
                self_help_options: c.self_help_options,
                office_offers: c.office_offers,
                capacity_to_work: c.capacity_to_work,
                activation_track: c.activation_track,
                barriers,
            },
            legal_basis: c.legal_basis,
            plan_revision: c.plan_revision,
            next_due_date: c.next_due_date,
            closure,
            version: c.version,
            updated_at: c.updated_at,
            next_review_date: c.next_review_date,
            agreement_id: c.agreement_id.map(AgreementId),
            urgency_date: (c.urgency_date != NOTHING_DUE_DAY).then_some(c.urgency_date),
            legal_hold: match (c.legal_hold_reason, c.legal_hold_by, c.legal_hold_at) {
                (Some(reason), Some(by), Some(at)) => Some(LegalHoldRow { reason, by, at }),
                _ => None,
            },
        })
    }
}

/// Reads a case.
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn get(conn: &mut PgConnection, id: CaseId) -> Result<Option<CaseRow>, sqlx::Error> {
    let columns = sqlx::query_as!(
        Columns,
        r#"SELECT id, applicant_id, team_id, responsible_advisor_id, state AS "state: _",
               opened_at, client_display_name, client_birth_date,
               client_birth_date_precision AS "client_birth_date_precision: DatePrecision",
               client_interpreter_language,
               client_single_parent, client_youngest_child_age, consultation_id,
               consulting_advisor_id, consultation_started_at, arrived_at, same_day, first_steps,
               self_help_options, office_offers, capacity_to_work AS "capacity_to_work: _",
               activation_track AS "activation_track: _", barriers,
               legal_basis AS "legal_basis: _", plan_revision, next_due_date,
               closure_outcome AS "closure_outcome: _", closure_note, follow_up_date, closed_at,
               closed_by, version, updated_at, next_review_date, agreement_id,
               follow_up_result AS "follow_up_result: _", follow_up_note, followed_up_at,
               followed_up_by, urgency_date, legal_hold_reason, legal_hold_by, legal_hold_at
           FROM caseplan.cases WHERE id = $1 AND erased_at IS NULL"#,
        Uuid::from(id),
    )
    .fetch_optional(conn)
    .await?;
    columns.map(CaseRow::try_from).transpose()
}

/// Reads a case and locks it for a change in this transaction.
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn lock(conn: &mut PgConnection, id: CaseId) -> Result<Option<CaseRow>, sqlx::Error> {
    let columns = sqlx::query_as!(
        Columns,
        r#"SELECT id, applicant_id, team_id, responsible_advisor_id, state AS "state: _",
               opened_at, client_display_name, client_birth_date,
               client_birth_date_precision AS "client_birth_date_precision: DatePrecision",
               client_interpreter_language,
               client_single_parent, client_youngest_child_age, consultation_id,
               consulting_advisor_id, consultation_started_at, arrived_at, same_day, first_steps,
               self_help_options, office_offers, capacity_to_work AS "capacity_to_work: _",
               activation_track AS "activation_track: _", barriers,
               legal_basis AS "legal_basis: _", plan_revision, next_due_date,
               closure_outcome AS "closure_outcome: _", closure_note, follow_up_date, closed_at,
               closed_by, version, updated_at, next_review_date, agreement_id,
               follow_up_result AS "follow_up_result: _", follow_up_note, followed_up_at,
               followed_up_by, urgency_date, legal_hold_reason, legal_hold_by, legal_hold_at
           FROM caseplan.cases WHERE id = $1 AND erased_at IS NULL FOR UPDATE"#,
        Uuid::from(id),
    )
    .fetch_optional(conn)
    .await?;
    columns.map(CaseRow::try_from).transpose()
}

/// A page of cases of `team` (and of `responsible`, when given), optionally in `state`, most
/// urgent first, after the case with urgency key `after` ([`CaseRow::urgency_key`]).
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn list(
    conn: &mut PgConnection,
    team: TeamId,
    responsible: Option<AdvisorId>,
    state: Option<CaseState>,
    after: Option<(i64, Uuid)>,
    limit: i64,
) -> Result<Vec<CaseRow>, sqlx::Error> {
    let after_day = after
        .and_then(|(rank, _)| i32::try_from(rank).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt);
    let rows = sqlx::query_as!(
        Columns,
        r#"SELECT id, applicant_id, team_id, responsible_advisor_id, state AS "state: _",
               opened_at, client_display_name, client_birth_date,
               client_birth_date_precision AS "client_birth_date_precision: DatePrecision",
               client_interpreter_language,
               client_single_parent, client_youngest_child_age, consultation_id,
               consulting_advisor_id, consultation_started_at, arrived_at, same_day, first_steps,
               self_help_options, office_offers, capacity_to_work AS "capacity_to_work: _",
               activation_track AS "activation_track: _", barriers,
               legal_basis AS "legal_basis: _", plan_revision, next_due_date,
               closure_outcome AS "closure_outcome: _", closure_note, follow_up_date, closed_at,
               closed_by, version, updated_at, next_review_date, agreement_id,
               follow_up_result AS "follow_up_result: _", follow_up_note, followed_up_at,
               followed_up_by, urgency_date, legal_hold_reason, legal_hold_by, legal_hold_at
           FROM caseplan.cases
           WHERE team_id = $1 AND erased_at IS NULL
             AND ($2::uuid IS NULL OR responsible_advisor_id = $2)
             AND ($3::text IS NULL OR state = $3)
             AND ($4::date IS NULL OR (urgency_date, id) > ($4, $5::uuid))
           ORDER BY urgency_date, id
           LIMIT $6"#,
        Uuid::from(team),
        responsible.map(Uuid::from),
        state.map(CaseState::as_str),
        after_day,
        after.map(|(_, id)| id),
        limit,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(CaseRow::try_from).collect()
}

/// Sets the legal basis.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn set_legal_basis(
    conn: &mut PgConnection,
    id: CaseId,
    basis: LegalBasis,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET legal_basis = $2, version = version + 1, updated_at = $3
         WHERE id = $1",
        Uuid::from(id),
        basis.as_str(),
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Points the case at its new current plan revision.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn set_plan(
    conn: &mut PgConnection,
    id: CaseId,
    revision: i32,
    next_due_date: Option<NaiveDate>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET plan_revision = $2, next_due_date = $3,
             version = version + 1, updated_at = $4
         WHERE id = $1",
        Uuid::from(id),
        revision,
        next_due_date,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records the follow-up of a closed case.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn follow_up(
    conn: &mut PgConnection,
    id: CaseId,
    result: FollowUpResult,
    note: &str,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET follow_up_result = $2, follow_up_note = $3, followed_up_at = $4,
             followed_up_by = $5, version = version + 1, updated_at = $4
         WHERE id = $1",
        Uuid::from(id),
        result.as_str(),
        note,
        at,
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens a closed case again with what its plan has due; its closure stays in the timeline.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn reopen(
    conn: &mut PgConnection,
    id: CaseId,
    next_due_date: Option<NaiveDate>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET state = 'open', closure_outcome = NULL, closure_note = NULL,
             follow_up_date = NULL, closed_at = NULL, closed_by = NULL, follow_up_result = NULL,
             follow_up_note = NULL, followed_up_at = NULL, followed_up_by = NULL,
             next_due_date = $2, version = version + 1, updated_at = $3
         WHERE id = $1",
        Uuid::from(id),
        next_due_date,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The client's open case other than `except`, if any.
#[tracing::instrument(name = "SELECT caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.collection.name = "cases"))]
pub async fn other_open_case(
    conn: &mut PgConnection,
    applicant: ApplicantId,
    except: CaseId,
) -> Result<Option<CaseId>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "SELECT id FROM caseplan.cases WHERE applicant_id = $1 AND state = 'open' AND id <> $2",
        Uuid::from(applicant),
        Uuid::from(except),
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.map(CaseId))
}

/// Gives the case another responsible advisor.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn reassign(
    conn: &mut PgConnection,
    id: CaseId,
    advisor: AdvisorId,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET responsible_advisor_id = $2, version = version + 1, updated_at = $3
         WHERE id = $1",
        Uuid::from(id),
        Uuid::from(advisor),
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Points the case at the agreement in force (or none) and its next review day.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn set_agreement(
    conn: &mut PgConnection,
    id: CaseId,
    agreement: Option<AgreementId>,
    next_review_date: Option<NaiveDate>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET agreement_id = $2,
             next_review_date = COALESCE($3, next_review_date), version = version + 1,
             updated_at = $4
         WHERE id = $1",
        Uuid::from(id),
        agreement.map(Uuid::from),
        next_review_date,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the next review day.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn set_next_review(
    conn: &mut PgConnection,
    id: CaseId,
    day: NaiveDate,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET next_review_date = $2, version = version + 1, updated_at = $3
         WHERE id = $1",
        Uuid::from(id),
        day,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes the case.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn close(
    conn: &mut PgConnection,
    id: CaseId,
    closure: &Closure,
    at: DateTime<Utc>,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET state = 'closed', closure_outcome = $2, closure_note = $3,
             follow_up_date = $4, closed_at = $5, closed_by = $6, next_due_date = NULL,
             next_review_date = NULL, version = version + 1, updated_at = $5
         WHERE id = $1",
        Uuid::from(id),
        closure.outcome.as_str(),
        closure.note,
        closure.follow_up_date,
        at,
        by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Places (with its reason) or releases a legal hold.
#[tracing::instrument(name = "UPDATE caseplan.cases", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "UPDATE", db.collection.name = "cases"))]
pub async fn set_legal_hold(
    conn: &mut PgConnection,
    id: CaseId,
    reason: Option<&str>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE caseplan.cases SET legal_hold_reason = $2,
             legal_hold_by = CASE WHEN $2::text IS NULL THEN NULL ELSE $3::text END,
             legal_hold_at = CASE WHEN $2::text IS NULL THEN NULL ELSE $4::timestamptz END,
             version = version + 1, updated_at = $4
         WHERE id = $1",
        Uuid::from(id),
        reason,
        by,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The ids of every record case-plan holds about a person: their cases (plans are audited by
/// case), agreements and reviews (the audit trail's person filter).
#[tracing::instrument(name = "SELECT caseplan", skip_all, fields(db.system.name = "postgresql", db.namespace = "caseplan", db.operation.name = "SELECT", db.query.summary = "SELECT cases agreements reviews"))]
pub async fn records_of(pool: sqlx::PgPool, person: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM caseplan.cases WHERE applicant_id = $1
         UNION SELECT a.id FROM caseplan.agreements a
               JOIN caseplan.cases c ON c.id = a.case_id WHERE c.applicant_id = $1
         UNION SELECT r.id FROM caseplan.reviews r
               JOIN caseplan.cases c ON c.id = r.case_id WHERE c.applicant_id = $1"#,
        person
    )
    .fetch_all(&pool)
    .await
}
