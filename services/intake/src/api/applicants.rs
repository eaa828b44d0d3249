//! Applicants: register (with the duplicate check), read, search, update.

use std::collections::HashMap;

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::intake as pb;

use super::Intake;
use crate::{
    domain::{ApplicantId, name_key},
    store::applicants::{self, ApplicantRow, ApplicantValues},
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
        let values = wire::required(&mut v, "applicant", request.applicant.as_ref())
            .and_then(|a| applicant_values(&mut v, a, office_day(now)));
        let values = v.finish(values)?;

        self.changes
            .create(key, async |change| {
                applicants::lock_identity(change.conn(), &values).await?;
                if !request.allow_duplicate {
                    let candidates = applicants::likely_duplicates(change.conn(), &values).await?;
                    if !candidates.is_empty() {
                        return Err(likely_duplicate(&candidates));
                    }
                }
                let id = ApplicantId::generate();
                let row = applicants::insert(change.conn(), id, &values, now).await?;
                let event = pb::ApplicantRegistered {
                    applicant_id: id.to_string(),
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "applicant", &[id.0]).await?;
                Ok(pb::CreateApplicantResponse {
                    applicant: Some(row.into()),
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
        read.audit(caller, "applicant", &[id.0]).await?;
        Ok(pb::GetApplicantResponse {
            applicant: Some(row.into()),
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
            wire::optional_date(request.birth_date.as_ref()),
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
                    birth_date: Some(wire_date(r.birth_date)),
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

        self.changes
            .update(async |change| {
                let current = applicants::lock(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("applicant", id))?;
                if current.version != version {
                    return Err(ApiError::stale("applicant", id));
                }
                let values = patch.apply(&current);
                let row = applicants::update(change.conn(), id, &values, now).await?;
                let event = pb::ApplicantUpdated {
                    applicant_id: id.to_string(),
                    changed_fields: paths,
                    occur_time: Some(timestamp(now)),
                    client: Some(client_facts(&row)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "applicant", &[id.0]).await?;
                Ok(pb::UpdateApplicantResponse {
                    applicant: Some(row.into()),
                })
            })
            .await
    }
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

/// Parses the values of a new applicant.
fn applicant_values(
    v: &mut Violations,
    applicant: &pb::Applicant,
    today: chrono::NaiveDate,
) -> Option<ApplicantValues> {
    let every = FIELDS.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    let patch = Patch::parse(v, applicant, &every, today);
    Some(ApplicantValues {
        given_name: patch.given_name?,
        family_name: patch.family_name?,
        birth_date: patch.birth_date?,
        single_parent: patch.household.as_ref()?.0,
        children_ages: patch.household?.1,
        interpreter_language: patch.interpreter_language?,
    })
}

/// The fields of an applicant a request may set.
const FIELDS: &[&str] = &[
    "given_name",
    "family_name",
    "birth_date",
    "household",
    "interpreter_language",
];

/// The fields of an applicant a request sets; `None` where it sets none (or the field is bad).
#[derive(Default)]
struct Patch {
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<chrono::NaiveDate>,
    household: Option<(bool, Vec<i32>)>,
    interpreter_language: Option<String>,
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
        patch
    }

    fn apply(self, current: &ApplicantRow) -> ApplicantValues {
        let (single_parent, children_ages) = self
            .household
            .unwrap_or_else(|| (current.single_parent, current.children_ages.clone()));
        ApplicantValues {
            given_name: self
                .given_name
                .unwrap_or_else(|| current.given_name.clone()),
            family_name: self
                .family_name
                .unwrap_or_else(|| current.family_name.clone()),
            birth_date: self.birth_date.unwrap_or(current.birth_date),
            single_parent,
            children_ages,
            interpreter_language: self
                .interpreter_language
                .unwrap_or_else(|| current.interpreter_language.clone()),
        }
    }
}

/// A household: absent means no single parent and no children.
fn household(v: &mut Violations, household: Option<&pb::Household>) -> Option<(bool, Vec<i32>)> {
    const FIELD: &str = "applicant.household.children_ages";
    let Some(h) = household else {
        return Some((false, Vec::new()));
    };
    let mut ok = true;
    if h.children_ages.len() > 20 {
        v.add(FIELD, "must list at most 20 children");
        ok = false;
    }
    for (i, age) in h.children_ages.iter().enumerate() {
        if *age > 25 {
            v.add(format!("{FIELD}[{i}]"), "must be an age from 0 to 25");
            ok = false;
        }
    }
    ok.then(|| {
        (
            h.single_parent,
            h.children_ages.iter().map(|a| *a as i32).collect(),
        )
    })
}

impl From<ApplicantRow> for pb::Applicant {
    fn from(row: ApplicantRow) -> Self {
        pb::Applicant {
            id: row.id.to_string(),
            given_name: row.given_name,
            family_name: row.family_name,
            birth_date: Some(wire_date(row.birth_date)),
            household: Some(pb::Household {
                single_parent: row.single_parent,
                children_ages: row.children_ages.into_iter().map(|a| a as u32).collect(),
            }),
            interpreter_language: row.interpreter_language,
            etag: row.version.to_string(),
            create_time: Some(timestamp(row.created_at)),
            update_time: Some(timestamp(row.updated_at)),
        }
    }
}

/// What another service needs to know of an applicant to carry their case on.
pub(super) fn client_facts(row: &ApplicantRow) -> pb::ClientFacts {
    pb::ClientFacts {
        display_name: format!("{} {}", row.given_name, row.family_name),
        birth_date: Some(wire_date(row.birth_date)),
        interpreter_language: row.interpreter_language.clone(),
        single_parent: row.single_parent,
        youngest_child_age: row
            .children_ages
            .iter()
            .min()
            .and_then(|age| u32::try_from(*age).ok()),
    }
}
