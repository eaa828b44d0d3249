//! The person as the front desk records them: contact and where they live (which decides
//! local responsibility), the identity check, residence status and the household questions.

use chrono::{DateTime, Utc};
use fallwerk_platform::{stored_enum, wire::BirthDate};

use super::TeamId;

/// Whether this office is locally responsible for a person (örtliche Zuständigkeit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalResponsibility {
    /// Cannot be said: no address, or the office has no service areas.
    Undecided,
    /// The address is in a team's service area, or the person has no fixed abode.
    Responsible,
    /// The address is outside every service area.
    NotResponsible,
}

impl LocalResponsibility {
    /// Decides by where the person lives: `address_team` is the team whose service area holds
    /// the address, `areas_defined` whether any team has a service area at all. A person
    /// without a fixed abode is the office's where they actually stay (§ 98 SGB XII).
    pub fn of(residence: Residence, address_team: Option<TeamId>, areas_defined: bool) -> Self {
        match residence {
            Residence::Unknown => LocalResponsibility::Undecided,
            Residence::NoFixedAbode => LocalResponsibility::Responsible,
            Residence::Address if address_team.is_some() => LocalResponsibility::Responsible,
            Residence::Address if areas_defined => LocalResponsibility::NotResponsible,
            Residence::Address => LocalResponsibility::Undecided,
        }
    }
}

/// What is known of where a person lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residence {
    /// Not recorded.
    Unknown,
    /// An address.
    Address,
    /// No fixed abode.
    NoFixedAbode,
}

/// A person's master data as the front desk records it (everything of an applicant but its
/// id, version and household links).
#[derive(Debug, Clone)]
pub struct Person {
    /// Given name(s).
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Date of birth, perhaps partly unknown.
    pub birth_date: BirthDate,
    /// Household questions and children.
    pub household: Household,
    /// BCP 47 tag of the interpreter language, or empty.
    pub interpreter_language: String,
    /// Address and contact; `None` until recorded.
    pub contact: Option<Contact>,
    /// The identity check; `None` until checked.
    pub identity: Option<IdentityCheck>,
    /// Residence status; `None` until asked.
    pub residence_status: Option<ResidenceStatus>,
}

impl Person {
    /// What is known of where the person lives.
    pub fn residence(&self) -> Residence {
        match self.contact.as_ref().map(|c| &c.residence) {
            None => Residence::Unknown,
            Some(Dwelling::Address(_)) => Residence::Address,
            Some(Dwelling::NoFixedAbode { .. }) => Residence::NoFixedAbode,
        }
    }
}

/// The household questions, each `None` while not asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Household {
    /// Raises children alone.
    pub single_parent: Option<bool>,
    /// Children live in the household; `Some(true)` exactly when ages are listed.
    pub has_children: Option<bool>,
    /// Ages of the children.
    pub children_ages: Vec<i32>,
    /// A spouse or partner lives in the household.
    pub partner: Option<bool>,
}

/// Where a person lives and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// An address, or none.
    pub residence: Dwelling,
    /// Phone, or empty.
    pub phone: String,
    /// E-mail, or empty.
    pub email: String,
    /// The preferred channel.
    pub preferred_channel: ContactChannel,
}

/// Where a person lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dwelling {
    /// At this address.
    Address(PostalAddress),
    /// Without a fixed abode; post reaches them at `contact_address`, or at the office.
    NoFixedAbode {
        /// Where post reaches them, if not at the office.
        contact_address: Option<PostalAddress>,
    },
}

impl Dwelling {
    /// The postal code that decides local responsibility.
    pub fn postal_code(&self) -> Option<&str> {
        match self {
            Dwelling::Address(a) => Some(&a.postal_code),
            Dwelling::NoFixedAbode { .. } => None,
        }
    }
}

/// A German postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalAddress {
    /// Street and number.
    pub street: String,
    /// An extra line, or empty.
    pub extra_line: String,
    /// Five digits.
    pub postal_code: String,
    /// City.
    pub city: String,
}

/// That an identity was checked: the kind of document, who, when. Never the document number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCheck {
    /// The kind of document.
    pub document: IdentityDocument,
    /// Who checked.
    pub checked_by: String,
    /// When.
    pub checked_at: DateTime<Utc>,
}

stored_enum!(
    /// How a person wants to be contacted.
    ContactChannel {
        /// By letter.
        Post = "post",
        /// By phone.
        Phone = "phone",
        /// By e-mail.
        Email = "email",
        /// In person only.
        InPerson = "in_person",
    }
);

stored_enum!(
    /// The kind of document an identity was checked with (never its number).
    IdentityDocument {
        /// National identity card.
        IdCard = "id_card",
        /// Passport.
        Passport = "passport",
        /// Electronic residence permit.
        ResidencePermit = "residence_permit",
        /// Arrival certificate.
        ArrivalCertificate = "arrival_certificate",
        /// Identity card substitute.
        IdSubstitute = "id_substitute",
        /// Another document.
        Other = "other",
    }
);

stored_enum!(
    /// Residence status, as far as entitlement depends on it.
    ResidenceStatus {
        /// German citizen.
        German = "german",
        /// EU/EEA/Swiss freedom of movement.
        EuFreedomOfMovement = "eu_freedom_of_movement",
        /// Settlement permit.
        SettlementPermit = "settlement_permit",
        /// Temporary residence permit.
        ResidencePermit = "residence_permit",
        /// In the asylum procedure.
        AsylumProcedure = "asylum_procedure",
        /// Tolerated.
        Tolerated = "tolerated",
        /// Another status.
        Other = "other",
    }
);
