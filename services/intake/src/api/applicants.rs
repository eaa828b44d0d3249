//! Applicants: register (with the duplicate check), read, search, update. The person's
//! contact decides local responsibility; household links show on both linked records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, BirthDate, optional_enum, timestamp},
};
use fallwerk_proto::{intake as pb, types};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Intake;
use crate::{
    domain::{
        ApplicantId, Contact, ContactChannel, Dwelling, Household, IdentityCheck, IdentityDocument,
        LocalResponsibility, Person, PostalAddress, ResidenceStatus, name_key,
    },
    store::applicants::{self, ApplicantRow},
};

impl Intake {
    /// CreateApplicant: registers a person, refusing a likely duplicate unless told otherwise.
    pub(super) async fn create_applicant(
        &self,
        caller: &Caller,
        request: pb::CreateApplicantRequest,
    ) -> Result<pb::CreateApplicantResponse, ApiError> {
        let now = self.clock.now();
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let new = wire::required(&mut v, "applicant", request.applicant.as_ref())
            .and_then(|a| new_applicant(&mut v, a, caller, now));
        let (person, members) = v.finish(new)?;

        self.changes
            .create(key, async |change| {
                applicants::lock_identity(change.conn(), &person).await?;
                if !request.allow_duplicate {
                    let candidates = applicants::likely_duplicates(change.conn(), &person).await?;
                    if !candidates.is_empty() {
                        return Err(likely_duplicate(&candidates));
                    }
                }
                let id = ApplicantId::generate();
                let row = applicants::insert(change.conn(), id, &person, now).await?;
                link_household(change.conn(), id, &members).await?;
                let event = pb::ApplicantRegistered {
                    applicant_id: id.to_string(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change
                    .audit(caller, "applicant", &audited(id, &members))
                    .await?;
                let applicant = applicant_message(change.conn(), row).await?;
                Ok(pb::CreateApplicantResponse {
                    applicant: Some(applicant),
                })
            })
            .await
    }

    /// GetApplicant: one person's master data (audited).
    pub(super) async fn get_applicant(
        &self,
        caller: &Caller,
        request: pb::GetApplicantRequest,
    ) -> Result<pb::GetApplicantResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", wire::id(&request.id)).map(ApplicantId);
        let id = v.finish(id)?;
        let mut read = self.changes.read().await?;
        let row = applicants::get(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("applicant", id))?;
        let applicant = applicant_message(read.conn(), row).await?;
        read.audit(caller, "applicant", &[id.0]).await?;
        Ok(pb::GetApplicantResponse {
            applicant: Some(applicant),
        })
    }

    /// GetApplicantContact: how to reach a person, for a service sharing it under the client's
    /// consent (audited).
    pub(super) async fn get_applicant_contact(
        &self,
        caller: &Caller,
        request: pb::GetApplicantContactRequest,
    ) -> Result<pb::GetApplicantContactResponse, ApiError> {
        let mut v = Violations::new();
        let id = v
            .check("applicant_id", wire::id(&request.applicant_id))
            .map(ApplicantId);
        let id = v.finish(id)?;
        let mut read = self.changes.read().await?;
        let row = applicants::get(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("applicant", id))?;
        read.audit(caller, "applicant_contact", &[id.0]).await?;
        Ok(pb::GetApplicantContactResponse {
            contact: row.person.contact.map(contact_message),
        })
    }

    /// SearchApplicants: by name prefixes and date of birth, paginated (audited).
    pub(super) async fn search_applicants(
        &self,
        caller: &Caller,
        request: pb::SearchApplicantsRequest,
    ) -> Result<pb::SearchApplicantsResponse, ApiError> {
        let mut v = Violations::new();
        let family = v.check(
            "family_name",
            wire::optional_text(&request.family_name, 200),
        );
        let given = v.check("given_name", wire::optional_text(&request.given_name, 200));
        let birth_date = v.check(
            "birth_date",
            request
                .birth_date
                .as_ref()
                .map(|d| BirthDate::from_wire(Some(d)))
                .transpose(),
        );
        if family.as_deref() == Some("") && given.as_deref() == Some("") && birth_date == Some(None)
        {
            v.add(
                "family_name",
                "give a family name, a given name or a date of birth to search by",
            );
        }
        let birth = request
            .birth_date
            .map(|d| format!("{d:?}"))
            .unwrap_or_default();
        let filters = [
            caller.method,
            &request.family_name,
            &request.given_name,
            &birth,
        ];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let (family, given, birth_date, page) =
            v.finish((|| Some((family?, given?, birth_date?, page?)))())?;

        let search = applicants::Search {
            family_prefix: name_key(&family),
            given_prefix: name_key(&given),
            birth_date,
            after: page.after,
            limit: page.fetch_limit(),
        };
        let mut read = self.changes.read().await?;
        let rows = applicants::search(read.conn(), &search).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        let ids: Vec<_> = rows.iter().map(|r| r.id.0).collect();
        read.audit(caller, "applicant", &ids).await?;
        Ok(pb::SearchApplicantsResponse {
            applicants: rows
                .into_iter()
                .map(|r| pb::ApplicantSummary {
                    id: r.id.to_string(),
                    given_name: r.given_name,
                    family_name: r.family_name,
                    birth_date: Some(
                        BirthDate {
                            earliest: r.birth_date,
                            precision: r.birth_date_precision,
                        }
                        .to_wire(),
                    ),
                })
                .collect(),
            next_page_token,
        })
    }

    /// UpdateApplicant: replaces the fields named in the mask, if the etag is current.
    pub(super) async fn update_applicant(
        &self,
        caller: &Caller,
        request: pb::UpdateApplicantRequest,
    ) -> Result<pb::UpdateApplicantResponse, ApiError> {
        let now = self.clock.now();
        let mut v = Violations::new();
        let paths = wire::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let applicant = wire::required(&mut v, "applicant", request.applicant.as_ref());
        let id = applicant.and_then(|a| v.check("applicant.id", wire::id(&a.id)));
        let version = applicant.and_then(|a| v.check("applicant.etag", wire::etag(&a.etag)));
        let patch = applicant.map(|a| Patch::parse(&mut v, a, &paths, office_day(now)));
        let (id, (version, patch)) = v.finish(id.zip(version.zip(patch)))?;
        let id = ApplicantId(id);
        if patch.linked_members().contains(&id) {
            return Err(ApiError::invalid(
                "applicant.household.member_applicant_ids",
                "must not name the applicant itself",
            ));
        }

        self.changes
            .update(async |change| {
                let current = applicants::lock(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("applicant", id))?;
                if current.version != version {
                    return Err(ApiError::stale("applicant", id));
                }
                let members = patch.household.as_ref().map(|(_, m)| m.clone());
                let person = patch.apply(current.person, caller, now);
                let row = applicants::update(change.conn(), id, &person, now).await?;
                if let Some(members) = &members {
                    link_household(change.conn(), id, members).await?;
                }
                let event = pb::ApplicantUpdated {
                    applicant_id: id.to_string(),
                    changed_fields: paths,
                    occur_time: Some(timestamp(now)),
                    client: Some(client_facts(&row)),
                };
                change.event(id, now, &event).await?;
                let members = members.unwrap_or_default();
                change
                    .audit(caller, "applicant", &audited(id, &members))
                    .await?;
                let applicant = applicant_message(change.conn(), row).await?;
                Ok(pb::UpdateApplicantResponse {
                    applicant: Some(applicant),
                })
            })
            .await
    }
}

/// The records a change touches: the applicant and the household members it links.
fn audited(id: ApplicantId, members: &[ApplicantId]) -> Vec<Uuid> {
    std::iter::once(id.0)
        .chain(members.iter().map(|m| m.0))
        .collect()
}

/// Links `id` with `members` (replacing its links); each must be an applicant.
async fn link_household(
    conn: &mut PgConnection,
    id: ApplicantId,
    members: &[ApplicantId],
) -> Result<(), ApiError> {
    let wanted: Vec<Uuid> = members.iter().map(|m| m.0).collect();
    let found = applicants::existing(conn, &wanted).await?;
    let mut v = Violations::new();
    for (i, member) in wanted.iter().enumerate() {
        if !found.contains(member) {
            v.add(
                format!("applicant.household.member_applicant_ids[{i}]"),
                "is not an applicant",
            );
        }
    }
    v.finish(Some(()))?;
    applicants::set_household_members(conn, id, members).await?;
    Ok(())
}

/// FAILED_PRECONDITION `LIKELY_DUPLICATE` with the candidates' ids, comma-separated.
fn likely_duplicate(candidates: &[uuid::Uuid]) -> ApiError {
    let ids = candidates
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",");
    ApiError::FailedPrecondition {
        reason: "LIKELY_DUPLICATE",
        message: format!(
            "{} existing applicant(s) have this name and date of birth; use one of them or set allow_duplicate",
            candidates.len()
        ),
        metadata: HashMap::from([("candidate_ids".to_owned(), ids)]),
    }
}

/// Parses a new applicant: the person, stamped as checked by `caller` if an identity check is
/// given, and the household members to link.
fn new_applicant(
    v: &mut Violations,
    applicant: &pb::Applicant,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Option<(Person, Vec<ApplicantId>)> {
    let every = FIELDS.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    let patch = Patch::parse(v, applicant, &every, office_day(now));
    let (household, members) = patch.household?;
    let identity = patch.identity_document?.map(|document| IdentityCheck {
        document,
        checked_by: caller.subject.clone(),
        checked_at: now,
    });
    let person = Person {
        given_name: patch.given_name?,
        family_name: patch.family_name?,
        birth_date: patch.birth_date?,
        household,
        interpreter_language: patch.interpreter_language?,
        contact: patch.contact?,
        identity,
        residence_status: patch.residence_status?,
    };
    Some((person, members))
}

/// The fields of an applicant a request may set.
const FIELDS: &[&str] = &[
    "given_name",
    "family_name",
    "birth_date",
    "household",
    "interpreter_language",
    "contact",
    "identity_check",
    "residence_status",
];

/// The fields of an applicant a request sets; `None` where it sets none (or the field is bad).
/// Fields that may be cleared hold `Some(None)` for "clear".
#[derive(Default)]
struct Patch {
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<BirthDate>,
    household: Option<(Household, Vec<ApplicantId>)>,
    interpreter_language: Option<String>,
    contact: Option<Option<Contact>>,
    identity_document: Option<Option<IdentityDocument>>,
    residence_status: Option<Option<ResidenceStatus>>,
}

impl Patch {
    /// Parses the fields named in `paths` of `a`, each complaint under `applicant.<field>`.
    fn parse(
        v: &mut Violations,
        a: &pb::Applicant,
        paths: &[String],
        today: chrono::NaiveDate,
    ) -> Self {
        let named = |name: &str| paths.iter().any(|p| p == name);
        let mut patch = Patch::default();
        if named("given_name") {
            patch.given_name = v.check(
                "applicant.given_name",
                wire::required_text(&a.given_name, 200),
            );
        }
        if named("family_name") {
            patch.family_name = v.check(
                "applicant.family_name",
                wire::required_text(&a.family_name, 200),
            );
        }
        if named("birth_date") {
            patch.birth_date = v.check(
                "applicant.birth_date",
                wire::birth_date(a.birth_date.as_ref(), today),
            );
        }
        if named("household") {
            patch.household = household(v, a.household.as_ref());
        }
        if named("interpreter_language") {
            patch.interpreter_language = v.check(
                "applicant.interpreter_language",
                wire::language_tag(&a.interpreter_language),
            );
        }
        if named("contact") {
            patch.contact = contact(v, a.contact.as_ref());
        }
        if named("identity_check") {
            patch.identity_document = match &a.identity_check {
                None => Some(None),
                Some(check) => v
                    .check(
                        "applicant.identity_check.document",
                        wire::enum_value::<pb::IdentityDocument, _>(check.document),
                    )
                    .map(Some),
            };
        }
        if named("residence_status") {
            patch.residence_status = v.check(
                "applicant.residence_status",
                optional_enum::<pb::ResidenceStatus, _>(a.residence_status),
            );
        }
        patch
    }

    /// The household members the patch links.
    fn linked_members(&self) -> &[ApplicantId] {
        self.household.as_ref().map_or(&[], |(_, m)| m)
    }

    /// The person after the patch. A changed identity check is stamped with `caller` and `now`;
    /// the same document again keeps who checked it first.
    fn apply(self, current: Person, caller: &Caller, now: DateTime<Utc>) -> Person {
        let identity = match self.identity_document {
            None => current.identity,
            Some(None) => None,
            Some(Some(document)) => match current.identity {
                Some(same) if same.document == document => Some(same),
                _ => Some(IdentityCheck {
                    document,
                    checked_by: caller.subject.clone(),
                    checked_at: now,
                }),
            },
        };
        Person {
            given_name: self.given_name.unwrap_or(current.given_name),
            family_name: self.family_name.unwrap_or(current.family_name),
            birth_date: self.birth_date.unwrap_or(current.birth_date),
            household: self.household.map_or(current.household, |(h, _)| h),
            interpreter_language: self
                .interpreter_language
                .unwrap_or(current.interpreter_language),
            contact: self.contact.unwrap_or(current.contact),
            identity,
            residence_status: self.residence_status.unwrap_or(current.residence_status),
        }
    }
}

/// Reads a household question: unspecified is "not asked".
fn answer(value: i32) -> Result<Option<bool>, String> {
    match pb::HouseholdAnswer::try_from(value) {
        Ok(pb::HouseholdAnswer::Unspecified) => Ok(None),
        Ok(pb::HouseholdAnswer::Yes) => Ok(Some(true)),
        Ok(pb::HouseholdAnswer::No) => Ok(Some(false)),
        Err(_) => Err("must be one of the enum's values".into()),
    }
}

fn wire_answer(value: Option<bool>) -> i32 {
    match value {
        None => pb::HouseholdAnswer::Unspecified,
        Some(true) => pb::HouseholdAnswer::Yes,
        Some(false) => pb::HouseholdAnswer::No,
    }
    .into()
}

/// A household. Absent means nothing asked; an older client's `single_parent: true` means yes.
fn household(
    v: &mut Violations,
    household: Option<&pb::Household>,
) -> Option<(Household, Vec<ApplicantId>)> {
    const F: &str = "applicant.household";
    let Some(h) = household else {
        return Some((Household::default(), Vec::new()));
    };
    let mut ok = true;
    let single_parent = v.check(
        &format!("{F}.single_parent_answer"),
        answer(h.single_parent_answer),
    );
    let single_parent = match single_parent {
        Some(None) if h.single_parent => Some(Some(true)),
        Some(Some(false)) if h.single_parent => {
            v.add(
                format!("{F}.single_parent"),
                "contradicts single_parent_answer NO",
            );
            None
        }
        other => other,
    };
    let children = v.check(&format!("{F}.children_answer"), answer(h.children_answer));
    let has_ages = !h.children_ages.is_empty();
    let has_children = match children {
        Some(None) if has_ages => Some(Some(true)),
        Some(Some(true)) if !has_ages => {
            v.add(
                format!("{F}.children_ages"),
                "lists the children's ages when children_answer is YES",
            );
            None
        }
        Some(Some(false)) if has_ages => {
            v.add(
                format!("{F}.children_ages"),
                "must be empty when children_answer is NO",
            );
            None
        }
        other => other,
    };
    let partner = v.check(&format!("{F}.partner_answer"), answer(h.partner_answer));
    if h.children_ages.len() > 20 {
        v.add(
            format!("{F}.children_ages"),
            "must list at most 20 children",
        );
        ok = false;
    }
    for (i, age) in h.children_ages.iter().enumerate() {
        if *age > 25 {
            v.add(
                format!("{F}.children_ages[{i}]"),
                "must be an age from 0 to 25",
            );
            ok = false;
        }
    }
    let mut members = Vec::new();
    if h.member_applicant_ids.len() > 20 {
        v.add(
            format!("{F}.member_applicant_ids"),
            "must list at most 20 applicants",
        );
        ok = false;
    }
    for (i, m) in h.member_applicant_ids.iter().enumerate() {
        let field = format!("{F}.member_applicant_ids[{i}]");
        match v.check(&field, wire::id(m)).map(ApplicantId) {
            Some(id) if members.contains(&id) => {
                v.add(field, "is listed twice");
                ok = false;
            }
            Some(id) => members.push(id),
            None => ok = false,
        }
    }
    let household = Household {
        single_parent: single_parent?,
        has_children: has_children?,
        children_ages: h.children_ages.iter().map(|a| *a as i32).collect(),
        partner: partner?,
    };
    ok.then_some((household, members))
}

/// A contact: where the person lives and how to reach them. Absent means not recorded.
fn contact(v: &mut Violations, contact: Option<&types::Contact>) -> Option<Option<Contact>> {
    const F: &str = "applicant.contact";
    let Some(c) = contact else {
        return Some(None);
    };
    let mut ok = true;
    let address = c
        .address
        .as_ref()
        .map(|a| postal_address(v, &format!("{F}.address"), a));
    let contact_address = c
        .contact_address
        .as_ref()
        .map(|a| postal_address(v, &format!("{F}.contact_address"), a));
    let residence = match (address, c.no_fixed_abode) {
        (Some(_), true) => {
            v.add(
                format!("{F}.no_fixed_abode"),
                "contradicts the address given: give one or the other",
            );
            None
        }
        (None, false) => {
            v.add(
                format!("{F}.address"),
                "is required unless no_fixed_abode is set",
            );
            None
        }
        (Some(address), false) => {
            if contact_address.is_some() {
                v.add(
                    format!("{F}.contact_address"),
                    "is only for a person without a fixed abode",
                );
                ok = false;
            }
            address.map(Dwelling::Address)
        }
        (None, true) => match contact_address {
            None => Some(Dwelling::NoFixedAbode {
                contact_address: None,
            }),
            Some(a) => a.map(|a| Dwelling::NoFixedAbode {
                contact_address: Some(a),
            }),
        },
    };
    let phone = v.check(&format!("{F}.phone"), phone(&c.phone));
    let email = v.check(&format!("{F}.email"), email(&c.email));
    let channel = v
        .check(
            &format!("{F}.preferred_channel"),
            optional_enum::<types::ContactChannel, _>(c.preferred_channel),
        )
        .map(|c| c.unwrap_or(ContactChannel::Post));
    if channel == Some(ContactChannel::Phone) && phone.as_deref() == Some("") {
        v.add(
            format!("{F}.phone"),
            "is required when the preferred channel is PHONE",
        );
        ok = false;
    }
    if channel == Some(ContactChannel::Email) && email.as_deref() == Some("") {
        v.add(
            format!("{F}.email"),
            "is required when the preferred channel is EMAIL",
        );
        ok = false;
    }
    let contact = Contact {
        residence: residence?,
        phone: phone?,
        email: email?,
        preferred_channel: channel?,
    };
    ok.then_some(Some(contact))
}

/// A German postal address under `field`.
fn postal_address(
    v: &mut Violations,
    field: &str,
    a: &types::PostalAddress,
) -> Option<PostalAddress> {
    let street = v.check(
        &format!("{field}.street"),
        wire::required_text(&a.street, 200),
    );
    let extra_line = v.check(
        &format!("{field}.extra_line"),
        wire::optional_text(&a.extra_line, 200),
    );
    let postal_code = v.check(&format!("{field}.postal_code"), postal_code(&a.postal_code));
    let city = v.check(&format!("{field}.city"), wire::required_text(&a.city, 100));
    Some(PostalAddress {
        street: street?,
        extra_line: extra_line?,
        postal_code: postal_code?,
        city: city?,
    })
}

fn postal_code(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.len() == 5 && value.chars().all(|c| c.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err("must be a German postal code of five digits".into())
    }
}

fn phone(value: &str) -> Result<String, String> {
    let value = value.trim();
    let allowed = |c: char| c.is_ascii_digit() || " +-/()".contains(c);
    if value.is_empty()
        || ((6..=30).contains(&value.len())
            && value.chars().all(allowed)
            && value.chars().filter(char::is_ascii_digit).count() >= 4)
    {
        Ok(value.to_owned())
    } else {
        Err("must be a phone number of 6 to 30 digits, spaces and + - / ( )".into())
    }
}

fn email(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let ok = value.len() <= 254
        && !value.chars().any(char::is_whitespace)
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if ok {
        Ok(value.to_owned())
    } else {
        Err("must be an e-mail address like name@example.org".into())
    }
}

/// The whole applicant as GetApplicant answers it, with its household links and local
/// responsibility read beside the row.
async fn applicant_message(
    conn: &mut PgConnection,
    row: ApplicantRow,
) -> Result<pb::Applicant, sqlx::Error> {
    let members = applicants::household_members(conn, row.id).await?;
    let (responsibility, team) = applicants::responsibility(conn, &row).await?;
    let p = row.person;
    let h = p.household;
    Ok(pb::Applicant {
        id: row.id.to_string(),
        given_name: p.given_name,
        family_name: p.family_name,
        birth_date: Some(p.birth_date.to_wire()),
        household: Some(pb::Household {
            single_parent: h.single_parent == Some(true),
            children_ages: h.children_ages.into_iter().map(|a| a as u32).collect(),
            single_parent_answer: wire_answer(h.single_parent),
            children_answer: wire_answer(h.has_children),
            partner_answer: wire_answer(h.partner),
            member_applicant_ids: members.iter().map(ToString::to_string).collect(),
        }),
        interpreter_language: p.interpreter_language,
        etag: row.version.to_string(),
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        contact: p.contact.map(contact_message),
        identity_check: p.identity.map(|i| pb::IdentityCheck {
            document: pb::IdentityDocument::from(i.document).into(),
            checked_by: i.checked_by,
            check_time: Some(timestamp(i.checked_at)),
        }),
        residence_status: p
            .residence_status
            .map_or(0, |r| pb::ResidenceStatus::from(r).into()),
        local_responsibility: match responsibility {
            LocalResponsibility::Undecided => pb::LocalResponsibility::Unspecified,
            LocalResponsibility::Responsible => pb::LocalResponsibility::Responsible,
            LocalResponsibility::NotResponsible => pb::LocalResponsibility::NotResponsible,
        }
        .into(),
        responsible_team_id: team.map(|t| t.to_string()).unwrap_or_default(),
    })
}

fn contact_message(c: Contact) -> types::Contact {
    let wire = |a: PostalAddress| types::PostalAddress {
        street: a.street,
        extra_line: a.extra_line,
        postal_code: a.postal_code,
        city: a.city,
    };
    let (address, no_fixed_abode, contact_address) = match c.residence {
        Dwelling::Address(a) => (Some(wire(a)), false, None),
        Dwelling::NoFixedAbode { contact_address } => (None, true, contact_address.map(wire)),
    };
    types::Contact {
        address,
        no_fixed_abode,
        contact_address,
        phone: c.phone,
        email: c.email,
        preferred_channel: types::ContactChannel::from(c.preferred_channel).into(),
    }
}

/// What another service needs to know of an applicant to carry their case on.
pub(super) fn client_facts(row: &ApplicantRow) -> pb::ClientFacts {
    let p = &row.person;
    pb::ClientFacts {
        display_name: format!("{} {}", p.given_name, p.family_name),
        birth_date: Some(p.birth_date.to_wire()),
        interpreter_language: p.interpreter_language.clone(),
        single_parent: p.household.single_parent == Some(true),
        youngest_child_age: p
            .household
            .children_ages
            .iter()
            .min()
            .and_then(|age| u32::try_from(*age).ok()),
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{0,7}",
            "\\PC{0,12}",
            "[ a-z@.+()/0-9\\-]{0,40}",
            Just(String::new())
        ]
    }

    fn address() -> impl Strategy<Value = Option<types::PostalAddress>> {
        proptest::option::of((text(), text(), text(), text()).prop_map(
            |(street, extra_line, postal_code, city)| types::PostalAddress {
                street,
                extra_line,
                postal_code,
                city,
            },
        ))
    }

    proptest! {
        /// A contact parses to a value exactly when nothing was named bad: never a value
        /// with a complaint, never a refusal without one (the handler would answer INTERNAL).
        #[test]
        fn a_contact_is_a_value_or_named_bad_fields(
            home in address(), post in address(), no_fixed_abode in any::<bool>(),
            phone in text(), email in text(), channel in -1i32..6,
        ) {
            let sent = types::Contact {
                address: home,
                no_fixed_abode,
                contact_address: post,
                phone,
                email,
                preferred_channel: channel,
            };
            let mut v = Violations::new();
            let parsed = contact(&mut v, Some(&sent));
            prop_assert_eq!(parsed.is_some(), v.is_empty());
            if let Some(Some(c)) = parsed {
                prop_assert!(c.preferred_channel != ContactChannel::Phone || !c.phone.is_empty());
                prop_assert!(c.preferred_channel != ContactChannel::Email || !c.email.is_empty());
                if let Dwelling::Address(a) = &c.residence {
                    prop_assert!(a.postal_code.len() == 5 && a.postal_code.chars().all(|d| d.is_ascii_digit()));
                }
            }
        }

        /// Likewise a household: answers, ages and members together, or named bad fields.
        #[test]
        fn a_household_is_a_value_or_named_bad_fields(
            single_parent in any::<bool>(), single in -1i32..4, children in -1i32..4,
            partner in -1i32..4, ages in proptest::collection::vec(0u32..40, 0..24),
            members in proptest::collection::vec(prop_oneof![Just(uuid::Uuid::nil().to_string()), "[0-9a-f-]{0,36}"], 0..4),
        ) {
            let sent = pb::Household {
                single_parent,
                children_ages: ages,
                single_parent_answer: single,
                children_answer: children,
                partner_answer: partner,
                member_applicant_ids: members,
            };
            let mut v = Violations::new();
            let parsed = household(&mut v, Some(&sent));
            prop_assert_eq!(parsed.is_some(), v.is_empty());
            if let Some((h, _)) = parsed {
                prop_assert_eq!(h.has_children == Some(true), !h.children_ages.is_empty());
                prop_assert!(h.children_ages.iter().all(|a| (0..=25).contains(a)));
            }
        }

        #[test]
        fn a_name_key_is_its_own_key(name in "\\PC{0,30}") {
            let key = name_key(&name);
            prop_assert_eq!(name_key(&key), key);
        }
    }
}
