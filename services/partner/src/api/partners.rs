//! Partners and their offers (admins), and the search for offers with free places.

use fallwerk_platform::{
    ApiError, Violations, auth::Caller, idempotency::request_key, page::PageRequest, wire,
};
use fallwerk_proto::partner as pb;

use super::PartnerApi;
use crate::{
    domain::{OfferCategory, OfferId, PartnerId, PartnerKind, StateError},
    store::{
        self,
        offers::{NewOffer, OfferRow},
        partners::PartnerRow,
    },
};

impl PartnerApi {
    /// CreatePartner: a new, active partner.
    pub(super) async fn create_partner(
        &self,
        caller: &Caller,
        request: pb::CreatePartnerRequest,
    ) -> Result<pb::CreatePartnerResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let partner = wire::required(&mut v, "partner", request.partner.as_ref()).and_then(|p| {
            let kind = v.check(
                "partner.kind",
                wire::enum_value::<pb::PartnerKind, PartnerKind>(p.kind),
            );
            let name = v.check(
                "partner.display_name",
                wire::required_text(&p.display_name, 200),
            );
            let contact = v.check("partner.contact", wire::optional_text(&p.contact, 500));
            Some(PartnerRow {
                id: PartnerId::generate(),
                kind: kind?,
                display_name: name?,
                contact: contact?,
                active: true,
            })
        });
        let partner = v.finish(partner)?;
        self.changes
            .create(key, async |change| {
                store::partners::insert(change.conn(), &partner, self.clock.now()).await?;
                Ok(pb::CreatePartnerResponse {
                    partner: Some(partner_to_wire(partner.clone())),
                })
            })
            .await
    }

    /// UpdatePartner: name, contact or active flag of a partner.
    pub(super) async fn update_partner(
        &self,
        _caller: &Caller,
        request: pb::UpdatePartnerRequest,
    ) -> Result<pb::UpdatePartnerResponse, ApiError> {
        const FIELDS: &[&str] = &["display_name", "contact", "active"];
        let mut v = Violations::new();
        let paths = wire::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let named = |f: &str| paths.iter().any(|p| p == f);
        let parsed = wire::required(&mut v, "partner", request.partner.as_ref()).and_then(|p| {
            let id = v.check("partner.id", wire::id(&p.id)).map(PartnerId);
            let name = if named("display_name") {
                v.check(
                    "partner.display_name",
                    wire::required_text(&p.display_name, 200),
                )
                .map(Some)
            } else {
                Some(None)
            };
            let contact = if named("contact") {
                v.check("partner.contact", wire::optional_text(&p.contact, 500))
                    .map(Some)
            } else {
                Some(None)
            };
            Some((id?, name?, contact?, named("active").then_some(p.active)))
        });
        let (id, name, contact, active) = v.finish(parsed)?;
        self.changes
            .update(async |change| {
                let current = store::partners::get(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("partner", id))?;
                let next = PartnerRow {
                    display_name: name.clone().unwrap_or(current.display_name.clone()),
                    contact: contact.clone().unwrap_or(current.contact.clone()),
                    active: active.unwrap_or(current.active),
                    ..current
                };
                let updated = store::partners::update(change.conn(), &next)
                    .await?
                    .ok_or_else(|| ApiError::not_found("partner", id))?;
                Ok(pb::UpdatePartnerResponse {
                    partner: Some(partner_to_wire(updated)),
                })
            })
            .await
    }

    /// ListPartners: partners in the order they were added.
    pub(super) async fn list_partners(
        &self,
        caller: &Caller,
        request: pb::ListPartnersRequest,
    ) -> Result<pb::ListPartnersResponse, ApiError> {
        let mut v = Violations::new();
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[caller.method],
        );
        let page = v.finish(page)?;
        let mut read = self.changes.read().await?;
        let rows = store::partners::list(read.conn(), page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |p| p.id.0);
        Ok(pb::ListPartnersResponse {
            partners: rows.into_iter().map(partner_to_wire).collect(),
            next_page_token,
        })
    }

    /// CreateOffer: an offer of an active partner.
    pub(super) async fn create_offer(
        &self,
        caller: &Caller,
        request: pb::CreateOfferRequest,
    ) -> Result<pb::CreateOfferResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let offer = wire::required(&mut v, "offer", request.offer.as_ref()).and_then(|o| {
            let partner = v
                .check("offer.partner_id", wire::id(&o.partner_id))
                .map(PartnerId);
            let category = v.check(
                "offer.category",
                wire::enum_value::<pb::OfferCategory, OfferCategory>(o.category),
            );
            let title = v.check("offer.title", wire::required_text(&o.title, 200));
            let places = v.check("offer.places", places(o.places));
            let eligibility = v.check(
                "offer.eligibility",
                wire::optional_text(&o.eligibility, 2000),
            );
            let location = v.check("offer.location", wire::optional_text(&o.location, 500));
            Some(NewOffer {
                id: OfferId::generate(),
                partner_id: partner?,
                category: category?,
                title: title?,
                places: places?,
                eligibility: eligibility?,
                location: location?,
            })
        });
        let offer = v.finish(offer)?;
        self.changes
            .create(key, async |change| {
                let partner = store::partners::get(change.conn(), offer.partner_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("partner", offer.partner_id))?;
                if !partner.active {
                    return Err(StateError::PartnerInactive.into());
                }
                store::offers::insert(change.conn(), &offer, self.clock.now()).await?;
                let row = store::offers::get(change.conn(), offer.id, false)
                    .await?
                    .ok_or_else(|| ApiError::not_found("offer", offer.id))?;
                Ok(pb::CreateOfferResponse {
                    offer: Some(offer_to_wire(row)),
                })
            })
            .await
    }

    /// SearchOffers: offers of active partners by category, free places first.
    pub(super) async fn search_offers(
        &self,
        caller: &Caller,
        request: pb::SearchOffersRequest,
    ) -> Result<pb::SearchOffersResponse, ApiError> {
        let mut v = Violations::new();
        let category = if request.category == 0 {
            Some(None)
        } else {
            v.check(
                "category",
                wire::enum_value::<pb::OfferCategory, OfferCategory>(request.category),
            )
            .map(Some)
        };
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[caller.method, &request.category.to_string()],
        );
        let (category, page) = v.finish(category.zip(page))?;
        let mut read = self.changes.read().await?;
        let after = page.after_rank.zip(page.after);
        let rows = store::offers::search(read.conn(), category, after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish_ranked(rows, |(rank, o)| (*rank, o.id.0));
        Ok(pb::SearchOffersResponse {
            offers: rows.into_iter().map(|(_, o)| offer_to_wire(o)).collect(),
            next_page_token,
        })
    }
}

/// A number of places.
pub(super) fn places(value: i32) -> Result<i32, String> {
    if (0..=10_000).contains(&value) {
        Ok(value)
    } else {
        Err("must be 0 to 10000".into())
    }
}

fn partner_to_wire(p: PartnerRow) -> pb::Partner {
    pb::Partner {
        id: p.id.to_string(),
        kind: pb::PartnerKind::from(p.kind).into(),
        display_name: p.display_name,
        contact: p.contact,
        active: p.active,
    }
}

pub(super) fn offer_to_wire(o: OfferRow) -> pb::Offer {
    pb::Offer {
        id: o.id.to_string(),
        partner_id: o.partner_id.to_string(),
        category: pb::OfferCategory::from(o.category).into(),
        title: o.title,
        places: o.places,
        places_taken: o.places_taken,
        waiting: i32::try_from(o.waiting).unwrap_or(i32::MAX),
        eligibility: o.eligibility,
        location: o.location,
    }
}
