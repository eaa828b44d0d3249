//! Applicants: register (with the duplicate check), read, search, update. The person's
//! contact decides local responsibility; household links show on both linked records.

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    error::numbered,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, BirthDate, timestamp},
};
use fallwerk_proto::{intake as pb, types};
use sqlx::PgConnection;
use uuid::Uuid;

mod parse;

use parse::{FIELDS, Patch, new_applicant, wire_answer};

use super::Intake;
use crate::{
    domain::{ApplicantId, Contact, Dwelling, LocalResponsibility, PostalAddress, name_key},
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

/// FAILED_PRECONDITION `LIKELY_DUPLICATE` with the candidates' ids as numbered keys.
fn likely_duplicate(candidates: &[uuid::Uuid]) -> ApiError {
    ApiError::FailedPrecondition {
        reason: pb::ErrorReason::LikelyDuplicate.into(),
        message: format!(
            "{} existing applicant(s) have this name and date of birth; use one of them or set allow_duplicate",
            candidates.len()
        ),
        metadata: numbered("candidate", candidates),
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
