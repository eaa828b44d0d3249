//! Applicants: person master data, the duplicate check and the name search.

use chrono::{DateTime, NaiveDate, Utc};
use fallwerk_platform::db::escape_like;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{ApplicantId, name_key};

/// An applicant as stored.
#[derive(Debug, Clone)]
pub struct ApplicantRow {
    /// Id.
    pub id: ApplicantId,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Single parent.
    pub single_parent: bool,
    /// Ages of the children in the household.
    pub children_ages: Vec<i32>,
    /// BCP 47 tag of the interpreter language, or empty.
    pub interpreter_language: String,
    /// Version (the etag).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The identity and household values written on create and update.
#[derive(Debug, Clone)]
pub struct ApplicantValues {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Single parent.
    pub single_parent: bool,
    /// Ages of the children in the household.
    pub children_ages: Vec<i32>,
    /// Interpreter language or empty.
    pub interpreter_language: String,
}

/// Serializes creates of one identity until the transaction ends, so two desks registering
/// the same person at the same moment still see each other in the duplicate check. (An
/// advisory lock: the row to lock does not exist yet.)
pub async fn lock_identity(
    conn: &mut PgConnection,
    values: &ApplicantValues,
) -> Result<(), sqlx::Error> {
    let key = format!(
        "intake.applicant:{}:{}",
        name_key(&values.family_name),
        values.birth_date
    );
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext($1))", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts an applicant.
pub async fn insert(
    conn: &mut PgConnection,
    id: ApplicantId,
    values: &ApplicantValues,
    now: DateTime<Utc>,
) -> Result<ApplicantRow, sqlx::Error> {
    sqlx::query_as!(
        ApplicantRow,
        r#"INSERT INTO intake.applicants (id, given_name, family_name, family_key, given_key, birth_date,
             single_parent, children_ages, interpreter_language, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         RETURNING id AS "id: ApplicantId", given_name, family_name, birth_date, single_parent,
             children_ages, interpreter_language, version, created_at, updated_at"#,
        id.0,
        values.given_name,
        values.family_name,
        name_key(&values.family_name),
        name_key(&values.given_name),
        values.birth_date,
        values.single_parent,
        &values.children_ages,
        values.interpreter_language,
        now,
    )
    .fetch_one(conn)
    .await
}

/// Applicants with the same folded names and date of birth.
pub async fn likely_duplicates(
    conn: &mut PgConnection,
    values: &ApplicantValues,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM intake.applicants
         WHERE family_key = $1 AND birth_date = $2 AND given_key = $3
         ORDER BY id LIMIT 10",
        name_key(&values.family_name),
        values.birth_date,
        name_key(&values.given_name),
    )
    .fetch_all(conn)
    .await
}

/// Whether the applicant exists.
pub async fn exists(conn: &mut PgConnection, id: ApplicantId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM intake.applicants WHERE id = $1) AS "exists!""#,
        id.0
    )
    .fetch_one(conn)
    .await
}

/// Reads an applicant.
pub async fn get(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<Option<ApplicantRow>, sqlx::Error> {
    sqlx::query_as!(
        ApplicantRow,
        r#"SELECT id AS "id: ApplicantId", given_name, family_name, birth_date, single_parent,
             children_ages, interpreter_language, version, created_at, updated_at
         FROM intake.applicants WHERE id = $1"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// Reads an applicant and locks it for a change in this transaction.
pub async fn lock(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<Option<ApplicantRow>, sqlx::Error> {
    sqlx::query_as!(
        ApplicantRow,
        r#"SELECT id AS "id: ApplicantId", given_name, family_name, birth_date, single_parent,
             children_ages, interpreter_language, version, created_at, updated_at
         FROM intake.applicants WHERE id = $1 FOR UPDATE"#,
        id.0
    )
    .fetch_optional(conn)
    .await
}

/// Search criteria; empty prefixes match all.
#[derive(Debug)]
pub struct Search {
    /// Prefix of the folded family name.
    pub family_prefix: String,
    /// Prefix of the folded given name.
    pub given_prefix: String,
    /// Exact date of birth.
    pub birth_date: Option<NaiveDate>,
    /// The last applicant of the previous page.
    pub after: Option<Uuid>,
    /// Rows to return.
    pub limit: i64,
}

/// Applicants matching `search`, in the order of the name index (keyset pagination).
pub async fn search(
    conn: &mut PgConnection,
    search: &Search,
) -> Result<Vec<ApplicantRow>, sqlx::Error> {
    sqlx::query_as!(
        ApplicantRow,
        r#"SELECT a.id AS "id: ApplicantId", a.given_name, a.family_name, a.birth_date,
             a.single_parent, a.children_ages, a.interpreter_language, a.version, a.created_at,
             a.updated_at
         FROM intake.applicants a
         WHERE a.family_key LIKE $1 || '%' AND a.given_key LIKE $2 || '%'
           AND ($3::date IS NULL OR a.birth_date = $3)
           AND ($4::uuid IS NULL OR (a.family_key, a.given_key, a.id) >
                (SELECT family_key, given_key, id FROM intake.applicants WHERE id = $4))
         ORDER BY a.family_key, a.given_key, a.id
         LIMIT $5"#,
        escape_like(&search.family_prefix),
        escape_like(&search.given_prefix),
        search.birth_date,
        search.after,
        search.limit,
    )
    .fetch_all(conn)
    .await
}

/// Writes new values; the caller holds the row's lock and checked the version.
pub async fn update(
    conn: &mut PgConnection,
    id: ApplicantId,
    values: &ApplicantValues,
    now: DateTime<Utc>,
) -> Result<ApplicantRow, sqlx::Error> {
    sqlx::query_as!(
        ApplicantRow,
        r#"UPDATE intake.applicants SET given_name = $2, family_name = $3, family_key = $4, given_key = $5,
             birth_date = $6, single_parent = $7, children_ages = $8, interpreter_language = $9,
             version = version + 1, updated_at = $10
         WHERE id = $1
         RETURNING id AS "id: ApplicantId", given_name, family_name, birth_date, single_parent,
             children_ages, interpreter_language, version, created_at, updated_at"#,
        id.0,
        values.given_name,
        values.family_name,
        name_key(&values.family_name),
        name_key(&values.given_name),
        values.birth_date,
        values.single_parent,
        &values.children_ages,
        values.interpreter_language,
        now,
    )
    .fetch_one(conn)
    .await
}
