//! Reading an applicant from a request: every field of the person checked, each complaint
//! under its own field path, and the patch an update applies.

use chrono::{DateTime, Utc};
use fallwerk_platform::{
    Violations,
    auth::Caller,
    clock::office_day,
    wire::{self, BirthDate, optional_enum},
};
use fallwerk_proto::{intake as pb, types};

use crate::domain::{
    ApplicantId, Contact, ContactChannel, Dwelling, Household, IdentityCheck, IdentityDocument,
    Person, PostalAddress, ResidenceStatus,
};

/// Parses a new applicant: the person, stamped as checked by `caller` if an identity check is
/// given, and the household members to link.
pub(super) fn new_applicant(
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
pub(super) const FIELDS: &[&str] = &[
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
pub(super) struct Patch {
    pub(super) given_name: Option<String>,
    pub(super) family_name: Option<String>,
    pub(super) birth_date: Option<BirthDate>,
    pub(super) household: Option<(Household, Vec<ApplicantId>)>,
    pub(super) interpreter_language: Option<String>,
    pub(super) contact: Option<Option<Contact>>,
    pub(super) identity_document: Option<Option<IdentityDocument>>,
    pub(super) residence_status: Option<Option<ResidenceStatus>>,
}

impl Patch {
    /// Parses the fields named in `paths` of `a`, each complaint under `applicant.<field>`.
    pub(super) fn parse(
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
    pub(super) fn linked_members(&self) -> &[ApplicantId] {
        self.household.as_ref().map_or(&[], |(_, m)| m)
    }

    /// The person after the patch. A changed identity check is stamped with `caller` and `now`;
    /// the same document again keeps who checked it first.
    pub(super) fn apply(self, current: Person, caller: &Caller, now: DateTime<Utc>) -> Person {
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

pub(super) fn wire_answer(value: Option<bool>) -> i32 {
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
    }
}
