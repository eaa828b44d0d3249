//! The client's consents: recorded and revoked by the case's advisors; a revocation redacts
//! what referrals under it carry.

use std::collections::BTreeSet;

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    clock::office_day,
    idempotency::request_key,
    page::PageRequest,
    wire::{self, timestamp, wire_date},
};
use fallwerk_proto::{partner as pb, types};

use super::{PartnerApi, referrals::changed, team_case};
use crate::{
    domain::{CaseId, ConsentForm, ConsentId, DataCategory, PartnerId, StateError},
    store::{self, consents::ConsentRow},
};

impl PartnerApi {
    /// RecordConsent: a consent of the client of an open case of the caller's team.
    pub(super) async fn record_consent(
        &self,
        caller: &Caller,
        request: pb::RecordConsentRequest,
    ) -> Result<pb::RecordConsentResponse, ApiError> {
        let today = office_day(self.clock.now());
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let consent = wire::required(&mut v, "consent", request.consent.as_ref()).and_then(|c| {
            let case = v.check("consent.case_id", wire::id(&c.case_id)).map(CaseId);
            let partner = v
                .check("consent.partner_id", wire::id(&c.partner_id))
                .map(PartnerId);
            let purpose = v.check("consent.purpose", wire::required_text(&c.purpose, 500));
            let categories = categories(&mut v, "consent.categories", &c.categories);
            let form = v.check(
                "consent.form",
                wire::enum_value::<pb::ConsentForm, ConsentForm>(c.form),
            );
            let evidence = v.check("consent.evidence", wire::required_text(&c.evidence, 500));
            let given = v.check(
                "consent.given_date",
                wire::date(c.given_date.as_ref()).and_then(|d| {
                    if d > today {
                        Err("must not lie in the future".to_owned())
                    } else {
                        Ok(d)
                    }
                }),
            );
            let until = v.check("consent.valid_until", wire::date(c.valid_until.as_ref()));
            if let (Some(given), Some(until)) = (given, until)
                && until <= given
            {
                v.add("consent.valid_until", "must lie after given_date");
            }
            Some(ConsentRow {
                id: ConsentId::generate(),
                case_id: case?,
                partner_id: partner?,
                purpose: purpose?,
                categories: categories?.into_iter().collect(),
                form: form?,
                evidence: evidence?,
                given_date: given?,
                valid_until: until?,
                recorded_by: caller.subject.clone(),
                revoked_at: None,
            })
        });
        let consent = v.finish(consent)?;
        self.changes
            .create(key, async |change| {
                let case = team_case(change.conn(), caller, consent.case_id).await?;
                if !case.open {
                    return Err(StateError::CaseClosed.into());
                }
                store::partners::get(change.conn(), consent.partner_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("partner", consent.partner_id))?;
                store::consents::insert(change.conn(), &consent, self.clock.now()).await?;
                change.audit(caller, "consent", &[consent.id.0]).await?;
                Ok(pb::RecordConsentResponse {
                    consent: Some(consent_to_wire(consent.clone())),
                })
            })
            .await
    }

    /// RevokeConsent: the consent ends now, and the data shared under it is redacted.
    pub(super) async fn revoke_consent(
        &self,
        caller: &Caller,
        request: pb::RevokeConsentRequest,
    ) -> Result<pb::RevokeConsentResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let id = v
            .check("consent_id", wire::id(&request.consent_id))
            .map(ConsentId);
        let id = v.finish(id)?;
        self.changes
            .create(key, async |change| {
                let consent = store::consents::get(change.conn(), id, true)
                    .await?
                    .ok_or_else(|| ApiError::not_found("consent", id))?;
                team_case(change.conn(), caller, consent.case_id)
                    .await
                    .map_err(|_| ApiError::not_found("consent", id))?;
                if consent.revoked_at.is_some() {
                    return Err(StateError::ConsentRevoked.into());
                }
                let now = self.clock.now();
                store::consents::revoke(change.conn(), id, now, &caller.subject).await?;
                // Redacted everywhere the partner reads; its referrals' change events tell it.
                for redacted in store::referrals::redact(change.conn(), id, now).await? {
                    if let Some(referral) =
                        store::referrals::get(change.conn(), redacted, false).await?
                    {
                        change
                            .event(referral.partner_id, now, &changed(&referral, now))
                            .await?;
                    }
                }
                change.audit(caller, "consent", &[id.0]).await?;
                let consent = store::consents::get(change.conn(), id, false)
                    .await?
                    .ok_or_else(|| ApiError::not_found("consent", id))?;
                Ok(pb::RevokeConsentResponse {
                    consent: Some(consent_to_wire(consent)),
                })
            })
            .await
    }

    /// ListConsents: a case's consents (audited).
    pub(super) async fn list_consents(
        &self,
        caller: &Caller,
        request: pb::ListConsentsRequest,
    ) -> Result<pb::ListConsentsResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let filters = [caller.method, request.case_id.as_str()];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let (id, page) = v.finish(id.zip(page))?;
        let mut read = self.changes.read().await?;
        team_case(read.conn(), caller, id).await?;
        let rows =
            store::consents::of_case(read.conn(), id, page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |c| c.id.0);
        read.audit(caller, "case", &[id.0]).await?;
        Ok(pb::ListConsentsResponse {
            consents: rows.into_iter().map(consent_to_wire).collect(),
            next_page_token,
        })
    }
}

/// Parses data categories: at least one, each once.
pub(super) fn categories(
    v: &mut Violations,
    field: &str,
    values: &[i32],
) -> Option<BTreeSet<DataCategory>> {
    if values.is_empty() {
        v.add(field, "must name at least one category");
        return None;
    }
    let mut parsed = BTreeSet::new();
    let mut ok = true;
    for (i, value) in values.iter().enumerate() {
        match wire::enum_value::<types::DataCategory, DataCategory>(*value) {
            Ok(c) if parsed.insert(c) => {}
            Ok(_) => {
                v.add(format!("{field}[{i}]"), "is named twice");
                ok = false;
            }
            Err(e) => {
                v.add(format!("{field}[{i}]"), e);
                ok = false;
            }
        }
    }
    ok.then_some(parsed)
}

fn consent_to_wire(c: ConsentRow) -> pb::Consent {
    pb::Consent {
        id: c.id.to_string(),
        case_id: c.case_id.to_string(),
        partner_id: c.partner_id.to_string(),
        purpose: c.purpose,
        categories: c
            .categories
            .into_iter()
            .map(|c| types::DataCategory::from(c).into())
            .collect(),
        form: pb::ConsentForm::from(c.form).into(),
        evidence: c.evidence,
        given_date: Some(wire_date(c.given_date)),
        valid_until: Some(wire_date(c.valid_until)),
        recorded_by: c.recorded_by,
        revoke_time: c.revoked_at.map(timestamp),
    }
}
