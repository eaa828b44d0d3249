//! Applicants: person master data, household links, the duplicate check, the name search and
//! local responsibility.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fallwerk_platform::{
    db::escape_like,
    wire::{BirthDate, DatePrecision},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{
    ApplicantId, Contact, ContactChannel, Dwelling, Household, IdentityCheck, IdentityDocument,
    LocalResponsibility, Person, PostalAddress, ResidenceStatus, TeamId, name_key,
};

/// An applicant as stored.
#[derive(Debug, Clone)]
pub struct ApplicantRow {
    /// Id.
    pub id: ApplicantId,
    /// The person's data.
    pub person: Person,
    /// Version (the etag).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The columns of `intake.applicants`, as one query reads them.
struct Columns {
    id: ApplicantId,
    given_name: String,
    family_name: String,
    birth_date: NaiveDate,
    birth_date_precision: DatePrecision,
    single_parent: Option<bool>,
    has_children: Option<bool>,
    children_ages: Vec<i32>,
    partner_in_household: Option<bool>,
    interpreter_language: String,
    address_street: Option<String>,
    address_extra_line: Option<String>,
    address_postal_code: Option<String>,
    address_city: Option<String>,
    no_fixed_abode: bool,
    contact_street: Option<String>,
    contact_extra_line: Option<String>,
    contact_postal_code: Option<String>,
    contact_city: Option<String>,
    phone: String,
    email: String,
    preferred_channel: ContactChannel,
    identity_document: Option<IdentityDocument>,
    identity_checked_by: Option<String>,
    identity_checked_at: Option<DateTime<Utc>>,
    residence_status: Option<ResidenceStatus>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn address(
    street: Option<String>,
    extra_line: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
) -> Option<PostalAddress> {
    Some(PostalAddress {
        street: street?,
        extra_line: extra_line.unwrap_or_default(),
        postal_code: postal_code?,
        city: city?,
    })
}

impl From<Columns> for ApplicantRow {
    fn from(c: Columns) -> Self {
        let home = address(
            c.address_street,
            c.address_extra_line,
            c.address_postal_code,
            c.address_city,
        );
        let residence = match (home, c.no_fixed_abode) {
            (Some(home), _) => Some(Dwelling::Address(home)),
            (None, true) => Some(Dwelling::NoFixedAbode {
                contact_address: address(
                    c.contact_street,
                    c.contact_extra_line,
                    c.contact_postal_code,
                    c.contact_city,
                ),
            }),
            (None, false) => None,
        };
        let identity = match (
            c.identity_document,
            c.identity_checked_by,
            c.identity_checked_at,
        ) {
            (Some(document), Some(checked_by), Some(checked_at)) => Some(IdentityCheck {
                document,
                checked_by,
                checked_at,
            }),
            _ => None,
        };
        ApplicantRow {
            id: c.id,
            person: Person {
                given_name: c.given_name,
                family_name: c.family_name,
                birth_date: BirthDate {
                    earliest: c.birth_date,
                    precision: c.birth_date_precision,
                },
                household: Household {
                    single_parent: c.single_parent,
                    has_children: c.has_children,
                    children_ages: c.children_ages,
                    partner: c.partner_in_household,
                },
                interpreter_language: c.interpreter_language,
                contact: residence.map(|residence| Contact {
                    residence,
                    phone: c.phone,
                    email: c.email,
                    preferred_channel: c.preferred_channel,
                }),
                identity,
                residence_status: c.residence_status,
            },
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A person's values as columns, for insert and update.
struct Values<'a> {
    home: Option<&'a PostalAddress>,
    no_fixed_abode: bool,
    post: Option<&'a PostalAddress>,
    phone: &'a str,
    email: &'a str,
    channel: ContactChannel,
}

impl<'a> Values<'a> {
    fn of(person: &'a Person) -> Self {
        let contact = person.contact.as_ref();
        let (home, post) = match contact.map(|c| &c.residence) {
            Some(Dwelling::Address(a)) => (Some(a), None),
            Some(Dwelling::NoFixedAbode { contact_address }) => (None, contact_address.as_ref()),
            None => (None, None),
        };
        Values {
            home,
            no_fixed_abode: matches!(
                contact.map(|c| &c.residence),
                Some(Dwelling::NoFixedAbode { .. })
            ),
            post,
            phone: contact.map_or("", |c| &c.phone),
            email: contact.map_or("", |c| &c.email),
            channel: contact.map_or(ContactChannel::Post, |c| c.preferred_channel),
        }
    }
}

/// Serializes creates of one identity until the transaction ends, so two desks registering
/// the same person at the same moment still see each other in the duplicate check. (An
/// advisory lock: the row to lock does not exist yet. By year of birth, as a partly known date
/// matches every date of its year or month.)
#[tracing::instrument(name = "SELECT intake", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.query.summary = "SELECT pg_advisory_xact_lock"))]
pub async fn lock_identity(conn: &mut PgConnection, person: &Person) -> Result<(), sqlx::Error> {
    let key = format!(
        "intake.applicant:{}:{}",
        name_key(&person.family_name),
        person.birth_date.earliest.year()
    );
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext($1))", key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts an applicant.
#[tracing::instrument(name = "INSERT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "INSERT", db.collection.name = "applicants", db.query.summary = "INSERT applicants; SELECT applicants"))]
pub async fn insert(
    conn: &mut PgConnection,
    id: ApplicantId,
    person: &Person,
    now: DateTime<Utc>,
) -> Result<ApplicantRow, sqlx::Error> {
    let p = person;
    let v = Values::of(person);
    let identity = p.identity.as_ref();
    sqlx::query!(
        "INSERT INTO intake.applicants (id, given_name, family_name, family_key, given_key,
             birth_date, birth_date_precision, single_parent, has_children, children_ages,
             partner_in_household, interpreter_language, address_street, address_extra_line,
             address_postal_code, address_city, no_fixed_abode, contact_street, contact_extra_line,
             contact_postal_code, contact_city, phone, email, preferred_channel, identity_document,
             identity_checked_by, identity_checked_at, residence_status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $29)",
        id.0,
        p.given_name,
        p.family_name,
        name_key(&p.family_name),
        name_key(&p.given_name),
        p.birth_date.earliest,
        p.birth_date.precision.as_str(),
        p.household.single_parent,
        p.household.has_children,
        &p.household.children_ages,
        p.household.partner,
        p.interpreter_language,
        v.home.map(|a| a.street.as_str()),
        v.home.map(|a| a.extra_line.as_str()),
        v.home.map(|a| a.postal_code.as_str()),
        v.home.map(|a| a.city.as_str()),
        v.no_fixed_abode,
        v.post.map(|a| a.street.as_str()),
        v.post.map(|a| a.extra_line.as_str()),
        v.post.map(|a| a.postal_code.as_str()),
        v.post.map(|a| a.city.as_str()),
        v.phone,
        v.email,
        v.channel.as_str(),
        identity.map(|i| i.document.as_str()),
        identity.map(|i| i.checked_by.as_str()),
        identity.map(|i| i.checked_at),
        p.residence_status.map(|r| r.as_str()),
        now,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Writes new values; the caller holds the row's lock and checked the version.
#[tracing::instrument(name = "UPDATE intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "UPDATE", db.collection.name = "applicants", db.query.summary = "UPDATE applicants; SELECT applicants"))]
pub async fn update(
    conn: &mut PgConnection,
    id: ApplicantId,
    person: &Person,
    now: DateTime<Utc>,
) -> Result<ApplicantRow, sqlx::Error> {
    let p = person;
    let v = Values::of(person);
    let identity = p.identity.as_ref();
    sqlx::query!(
        "UPDATE intake.applicants SET given_name = $2, family_name = $3, family_key = $4,
             given_key = $5, birth_date = $6, birth_date_precision = $7, single_parent = $8,
             has_children = $9, children_ages = $10, partner_in_household = $11,
             interpreter_language = $12, address_street = $13, address_extra_line = $14,
             address_postal_code = $15, address_city = $16, no_fixed_abode = $17,
             contact_street = $18, contact_extra_line = $19, contact_postal_code = $20,
             contact_city = $21, phone = $22, email = $23, preferred_channel = $24,
             identity_document = $25, identity_checked_by = $26, identity_checked_at = $27,
             residence_status = $28, version = version + 1, updated_at = $29
         WHERE id = $1",
        id.0,
        p.given_name,
        p.family_name,
        name_key(&p.family_name),
        name_key(&p.given_name),
        p.birth_date.earliest,
        p.birth_date.precision.as_str(),
        p.household.single_parent,
        p.household.has_children,
        &p.household.children_ages,
        p.household.partner,
        p.interpreter_language,
        v.home.map(|a| a.street.as_str()),
        v.home.map(|a| a.extra_line.as_str()),
        v.home.map(|a| a.postal_code.as_str()),
        v.home.map(|a| a.city.as_str()),
        v.no_fixed_abode,
        v.post.map(|a| a.street.as_str()),
        v.post.map(|a| a.extra_line.as_str()),
        v.post.map(|a| a.postal_code.as_str()),
        v.post.map(|a| a.city.as_str()),
        v.phone,
        v.email,
        v.channel.as_str(),
        identity.map(|i| i.document.as_str()),
        identity.map(|i| i.checked_by.as_str()),
        identity.map(|i| i.checked_at),
        p.residence_status.map(|r| r.as_str()),
        now,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Applicants with the same folded names and a date of birth that may be the same (a partly
/// known one matches every date it allows).
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants"))]
pub async fn likely_duplicates(
    conn: &mut PgConnection,
    person: &Person,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM intake.applicants a
         WHERE family_key = $1 AND given_key = $3
           AND birth_date >= date_trunc('year', $2::date)::date
           AND birth_date < (date_trunc('year', $2::date) + interval '1 year')::date
           AND date_trunc(CASE WHEN 'year' IN ($4, a.birth_date_precision) THEN 'year'
                               WHEN 'month' IN ($4, a.birth_date_precision) THEN 'month'
                               ELSE 'day' END, a.birth_date)
             = date_trunc(CASE WHEN 'year' IN ($4, a.birth_date_precision) THEN 'year'
                               WHEN 'month' IN ($4, a.birth_date_precision) THEN 'month'
                               ELSE 'day' END, $2::date)
         ORDER BY id LIMIT 10",
        name_key(&person.family_name),
        person.birth_date.earliest,
        name_key(&person.given_name),
        person.birth_date.precision.as_str(),
    )
    .fetch_all(conn)
    .await
}

/// Whether the applicant exists.
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants"))]
pub async fn exists(conn: &mut PgConnection, id: ApplicantId) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM intake.applicants WHERE id = $1 AND erased_at IS NULL) AS "exists!""#,
        id.0
    )
    .fetch_one(conn)
    .await
}

/// Which of `ids` are applicants.
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants"))]
pub async fn existing(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM intake.applicants WHERE id = ANY($1) AND erased_at IS NULL",
        ids
    )
    .fetch_all(conn)
    .await
}

/// Reads an applicant.
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants"))]
pub async fn get(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<Option<ApplicantRow>, sqlx::Error> {
    let row = sqlx::query_as!(
        Columns,
        r#"SELECT id AS "id: ApplicantId", given_name, family_name, birth_date,
             birth_date_precision AS "birth_date_precision: DatePrecision", single_parent,
             has_children, children_ages, partner_in_household, interpreter_language,
             address_street, address_extra_line, address_postal_code, address_city, no_fixed_abode,
             contact_street, contact_extra_line, contact_postal_code, contact_city, phone, email,
             preferred_channel AS "preferred_channel: ContactChannel",
             identity_document AS "identity_document: IdentityDocument", identity_checked_by,
             identity_checked_at, residence_status AS "residence_status: ResidenceStatus",
             version, created_at, updated_at
         FROM intake.applicants WHERE id = $1 AND erased_at IS NULL"#,
        id.0
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ApplicantRow::from))
}

/// Locks an applicant's row for a change in this transaction and reads it.
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants"))]
pub async fn lock(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<Option<ApplicantRow>, sqlx::Error> {
    let locked = sqlx::query_scalar!(
        "SELECT id FROM intake.applicants WHERE id = $1 AND erased_at IS NULL FOR UPDATE",
        id.0
    )
    .fetch_optional(&mut *conn)
    .await?;
    match locked {
        Some(_) => get(conn, id).await,
        None => Ok(None),
    }
}

/// The other applicants linked to `id` as living in the same household.
#[tracing::instrument(name = "SELECT intake.household_links", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "household_links"))]
pub async fn household_members(
    conn: &mut PgConnection,
    id: ApplicantId,
) -> Result<Vec<ApplicantId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT member_id AS "member_id: ApplicantId" FROM intake.household_links
         WHERE applicant_id = $1 ORDER BY member_id"#,
        id.0
    )
    .fetch_all(conn)
    .await
}

/// Replaces the household links of `id` with `members`, both directions.
#[tracing::instrument(name = "DELETE intake.household_links", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "DELETE", db.collection.name = "household_links", db.query.summary = "DELETE household_links; INSERT household_links"))]
pub async fn set_household_members(
    conn: &mut PgConnection,
    id: ApplicantId,
    members: &[ApplicantId],
) -> Result<(), sqlx::Error> {
    let members: Vec<Uuid> = members.iter().map(|m| m.0).collect();
    sqlx::query!(
        "DELETE FROM intake.household_links WHERE applicant_id = $1 OR member_id = $1",
        id.0
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO intake.household_links (applicant_id, member_id)
         SELECT $1, m FROM unnest($2::uuid[]) m
         UNION SELECT m, $1 FROM unnest($2::uuid[]) m
         ON CONFLICT DO NOTHING",
        id.0,
        &members,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether this office is locally responsible for the person, and the team whose service area
/// holds their address (the longest matching postal-code prefix; ties by team name).
#[tracing::instrument(name = "SELECT intake.teams", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "teams"))]
pub async fn responsibility(
    conn: &mut PgConnection,
    applicant: &ApplicantRow,
) -> Result<(LocalResponsibility, Option<TeamId>), sqlx::Error> {
    let postal_code = applicant
        .person
        .contact
        .as_ref()
        .and_then(|c| c.residence.postal_code());
    let area = sqlx::query!(
        r#"SELECT
             (SELECT t.id FROM intake.teams t, unnest(t.postal_code_prefixes) p
              WHERE $1::text LIKE p || '%'
              ORDER BY length(p) DESC, t.display_name LIMIT 1) AS "team: TeamId",
             EXISTS (SELECT 1 FROM intake.teams WHERE cardinality(postal_code_prefixes) > 0)
               AS "areas_defined!""#,
        postal_code,
    )
    .fetch_one(conn)
    .await?;
    let responsibility =
        LocalResponsibility::of(applicant.person.residence(), area.team, area.areas_defined);
    Ok((responsibility, area.team))
}

/// What a search finds of an applicant.
#[derive(Debug, Clone)]
pub struct SummaryRow {
    /// Id.
    pub id: ApplicantId,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, earliest.
    pub birth_date: NaiveDate,
    /// What of it is known.
    pub birth_date_precision: DatePrecision,
}

/// Search criteria; empty prefixes match all.
#[derive(Debug)]
pub struct Search {
    /// Prefix of the folded family name.
    pub family_prefix: String,
    /// Prefix of the folded given name.
    pub given_prefix: String,
    /// Date of birth: matches it exactly, and a partly known one it falls into.
    pub birth_date: Option<BirthDate>,
    /// The last applicant of the previous page.
    pub after: Option<Uuid>,
    /// Rows to return.
    pub limit: i64,
}

/// Applicants matching `search`, in the order of the name index (keyset pagination).
#[tracing::instrument(name = "SELECT intake.applicants", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.collection.name = "applicants"))]
pub async fn search(
    conn: &mut PgConnection,
    search: &Search,
) -> Result<Vec<SummaryRow>, sqlx::Error> {
    let birth = search.birth_date;
    sqlx::query_as!(
        SummaryRow,
        r#"SELECT a.id AS "id: ApplicantId", a.given_name, a.family_name, a.birth_date,
             a.birth_date_precision AS "birth_date_precision: DatePrecision"
         FROM intake.applicants a
         WHERE a.family_key LIKE $1 || '%' AND a.given_key LIKE $2 || '%' AND a.erased_at IS NULL
           AND ($3::date IS NULL
                OR (a.birth_date >= date_trunc('year', $3::date)::date
                    AND a.birth_date < (date_trunc('year', $3::date) + interval '1 year')::date
                    AND date_trunc(CASE WHEN 'year' IN ($4, a.birth_date_precision) THEN 'year'
                                        WHEN 'month' IN ($4, a.birth_date_precision) THEN 'month'
                                        ELSE 'day' END, a.birth_date)
                      = date_trunc(CASE WHEN 'year' IN ($4, a.birth_date_precision) THEN 'year'
                                        WHEN 'month' IN ($4, a.birth_date_precision) THEN 'month'
                                        ELSE 'day' END, $3::date)))
           AND ($5::uuid IS NULL OR (a.family_key, a.given_key, a.id) >
                (SELECT family_key, given_key, id FROM intake.applicants WHERE id = $5))
         ORDER BY a.family_key, a.given_key, a.id
         LIMIT $6"#,
        escape_like(&search.family_prefix),
        escape_like(&search.given_prefix),
        birth.map(|b| b.earliest),
        birth.map_or("day", |b| b.precision.as_str()),
        search.after,
        search.limit,
    )
    .fetch_all(conn)
    .await
}

/// The ids of every record intake holds about a person besides the applicant record: their
/// visits, consultations and case openings (the audit trail's person filter).
#[tracing::instrument(name = "SELECT intake", skip_all, fields(db.system.name = "postgresql", db.namespace = "intake", db.operation.name = "SELECT", db.query.summary = "SELECT visits consultations case_openings"))]
pub async fn records_of(pool: sqlx::PgPool, person: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM intake.visits WHERE applicant_id = $1
         UNION SELECT id FROM intake.consultations WHERE applicant_id = $1
         UNION SELECT case_id FROM intake.case_openings WHERE applicant_id = $1"#,
        person
    )
    .fetch_all(&pool)
    .await
}
