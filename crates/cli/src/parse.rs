//! What a person types, turned into the API's values once, at the edge. clap runs these
//! parsers, so a bad value is a usage error (exit 2) before any request leaves the terminal.
//!
//! The choice enums name the proto enum values in kebab case without their prefix:
//! `--function social-work` is `ADVISOR_FUNCTION_SOCIAL_WORK`.

pub mod caseplan;

use chrono::{Datelike, NaiveDate};
use clap::ValueEnum;
use fallwerk_platform::auth::Role;
use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use tonic::{
    metadata::AsciiMetadataValue,
    transport::{Certificate, Uri},
};

/// A calendar date written `YYYY-MM-DD`, e.g. `1985-03-14`.
pub fn date(text: &str) -> Result<NaiveDate, String> {
    // chrono alone would take `85-3-4` as the year 85; a front desk means 1985 and should be
    // told to write it out.
    let shaped = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| shaped)
        .ok_or_else(|| format!("`{text}` is not a date; write YYYY-MM-DD, e.g. 1985-03-14"))
}

/// A date of birth that may be partly unknown: `YYYY-MM-DD`, `YYYY-MM` or `YYYY` (the unknown
/// parts travel as 0).
pub fn birth_date(text: &str) -> Result<Date, String> {
    let wrong = || {
        format!(
            "`{text}` is not a date of birth; write YYYY-MM-DD, or YYYY-MM or YYYY when the document leaves day or month unknown"
        )
    };
    let parts: Vec<&str> = text.split('-').collect();
    let number = |p: &str, len: usize| {
        (p.len() == len && p.chars().all(|c| c.is_ascii_digit()))
            .then(|| p.parse::<i32>().ok())
            .flatten()
    };
    match parts.as_slice() {
        [_, _, _] => date(text).map(|d| Date {
            year: d.year(),
            month: d.month() as i32,
            day: d.day() as i32,
        }),
        [y, m] => match (number(y, 4), number(m, 2)) {
            (Some(year), Some(month)) if (1..=12).contains(&month) => Ok(Date {
                year,
                month,
                day: 0,
            }),
            _ => Err(wrong()),
        },
        [y] => number(y, 4)
            .map(|year| Date {
                year,
                month: 0,
                day: 0,
            })
            .ok_or_else(wrong),
        _ => Err(wrong()),
    }
}

/// A service's address: `http://` or `https://` with a host.
pub fn address(text: &str) -> Result<Uri, String> {
    let uri: Uri = text
        .parse()
        .map_err(|error| format!("`{text}` is not an address: {error}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(format!(
            "`{text}` needs http:// or https:// and a host, e.g. http://127.0.0.1:50051"
        )),
    }
}

/// A JWT as the `authorization` metadata value `Bearer <jwt>`.
pub fn bearer(token: &str) -> Result<AsciiMetadataValue, String> {
    // Tokens pasted from files or other tools often bring a trailing newline.
    let token = token.trim();
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    let mut value: AsciiMetadataValue = format!("Bearer {token}")
        .parse()
        .map_err(|_| "the token holds characters a JWT never has".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}

/// A CA certificate file (PEM), read when the command line is parsed so a wrong path is a
/// usage error.
pub fn ca_certificate(path: &str) -> Result<Certificate, String> {
    std::fs::read(path)
        .map(Certificate::from_pem)
        .map_err(|error| format!("cannot read `{path}`: {error}"))
}

/// A role as tokens name it (`front_desk`); `front-desk` is accepted too.
pub fn role(text: &str) -> Result<Role, String> {
    text.replace('-', "_").parse().map_err(|_| {
        let known: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role `{text}`; one of {}", known.join(", "))
    })
}

/// One checked priority claim, written `<claim>=<outcome>`, e.g. `housing-benefit=to-be-applied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimCheck {
    /// The claim checked.
    pub claim: Claim,
    /// What checking it found.
    pub outcome: Outcome,
}

/// Parses `--claim <claim>=<outcome>`.
pub fn claim_check(text: &str) -> Result<ClaimCheck, String> {
    let (claim, outcome) = text.split_once('=').ok_or_else(|| {
        format!("`{text}` needs the form <claim>=<outcome>, e.g. housing-benefit=to-be-applied")
    })?;
    Ok(ClaimCheck {
        claim: choice("claim", claim.trim())?,
        outcome: choice("outcome", outcome.trim())?,
    })
}

impl From<ClaimCheck> for pb::ClaimCheck {
    fn from(check: ClaimCheck) -> Self {
        pb::ClaimCheck {
            claim: pb::PriorityClaim::from(check.claim).into(),
            outcome: pb::ClaimOutcome::from(check.outcome).into(),
            note: String::new(),
        }
    }
}

/// One value of a choice enum, with the valid values in the complaint.
fn choice<T: ValueEnum>(what: &str, text: &str) -> Result<T, String> {
    T::from_str(text, true).map_err(|_| {
        let names: Vec<_> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_owned())
            .collect();
        format!("unknown {what} `{text}`; one of {}", names.join(", "))
    })
}

/// An advisor's professional function (`--function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Function {
    /// Administrative staff (Verwaltungskraft).
    Administrative,
    /// Social worker (Sozialarbeiter/in).
    SocialWork,
    /// Job placement officer (Arbeitsvermittler/in).
    JobPlacement,
}

impl From<Function> for pb::AdvisorFunction {
    fn from(value: Function) -> Self {
        match value {
            Function::Administrative => pb::AdvisorFunction::Administrative,
            Function::SocialWork => pb::AdvisorFunction::SocialWork,
            Function::JobPlacement => pb::AdvisorFunction::JobPlacement,
        }
    }
}

/// The access check's decision (`--decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Decision {
    /// Continue into case management: first consultation today.
    Continue,
    /// Send the person to the provider of a priority claim.
    PriorityProvider,
    /// No need of assistance.
    NoNeed,
    /// Another office is locally responsible: forward the application (`--forwarded-to`).
    NotLocallyResponsible,
}

impl From<Decision> for pb::AccessDecision {
    fn from(value: Decision) -> Self {
        match value {
            Decision::Continue => pb::AccessDecision::Continue,
            Decision::PriorityProvider => pb::AccessDecision::PriorityProvider,
            Decision::NoNeed => pb::AccessDecision::NoNeed,
            Decision::NotLocallyResponsible => pb::AccessDecision::NotLocallyResponsible,
        }
    }
}

/// An answer to a household question (`--single-parent`, `--children`, `--partner`); left
/// out, the question counts as not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    /// Yes.
    Yes,
    /// No.
    No,
}

/// The wire answer of an optional `--flag yes|no`: unset is "not asked".
pub fn answer(value: Option<Answer>) -> pb::HouseholdAnswer {
    match value {
        None => pb::HouseholdAnswer::Unspecified,
        Some(Answer::Yes) => pb::HouseholdAnswer::Yes,
        Some(Answer::No) => pb::HouseholdAnswer::No,
    }
}

/// The kind of identity document seen (`--identity-checked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Document {
    /// Personalausweis.
    IdCard,
    /// Passport.
    Passport,
    /// Electronic residence permit (eAT).
    ResidencePermit,
    /// Ankunftsnachweis.
    ArrivalCertificate,
    /// Ausweisersatz.
    IdSubstitute,
    /// Another document.
    Other,
}

impl From<Document> for pb::IdentityDocument {
    fn from(value: Document) -> Self {
        match value {
            Document::IdCard => pb::IdentityDocument::IdCard,
            Document::Passport => pb::IdentityDocument::Passport,
            Document::ResidencePermit => pb::IdentityDocument::ResidencePermit,
            Document::ArrivalCertificate => pb::IdentityDocument::ArrivalCertificate,
            Document::IdSubstitute => pb::IdentityDocument::IdSubstitute,
            Document::Other => pb::IdentityDocument::Other,
        }
    }
}

/// Residence status as far as entitlement needs it (`--residence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    /// German citizen.
    German,
    /// EU, EEA or Swiss citizen.
    EuFreedomOfMovement,
    /// Niederlassungserlaubnis.
    SettlementPermit,
    /// Aufenthaltserlaubnis.
    ResidencePermit,
    /// Aufenthaltsgestattung.
    AsylumProcedure,
    /// Duldung.
    Tolerated,
    /// Another status.
    Other,
}

impl From<Status> for pb::ResidenceStatus {
    fn from(value: Status) -> Self {
        match value {
            Status::German => pb::ResidenceStatus::German,
            Status::EuFreedomOfMovement => pb::ResidenceStatus::EuFreedomOfMovement,
            Status::SettlementPermit => pb::ResidenceStatus::SettlementPermit,
            Status::ResidencePermit => pb::ResidenceStatus::ResidencePermit,
            Status::AsylumProcedure => pb::ResidenceStatus::AsylumProcedure,
            Status::Tolerated => pb::ResidenceStatus::Tolerated,
            Status::Other => pb::ResidenceStatus::Other,
        }
    }
}

/// How the person wants to be contacted (`--contact-by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Channel {
    /// By letter.
    Post,
    /// By phone.
    Phone,
    /// By e-mail.
    Email,
    /// Only in person.
    InPerson,
}

impl From<Channel> for types::ContactChannel {
    fn from(value: Channel) -> Self {
        match value {
            Channel::Post => types::ContactChannel::Post,
            Channel::Phone => types::ContactChannel::Phone,
            Channel::Email => types::ContactChannel::Email,
            Channel::InPerson => types::ContactChannel::InPerson,
        }
    }
}

/// A claim that takes priority over social assistance (the left side of `--claim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Claim {
    /// Arbeitslosengeld (SGB III).
    UnemploymentBenefit,
    /// Bürgergeld from the Job-Center (SGB II).
    JobCenter,
    /// Wohngeld.
    HousingBenefit,
    /// Kindergeld, Kinderzuschlag.
    ChildBenefit,
    /// Unterhalt from relatives.
    Maintenance,
    /// Own income.
    OwnIncome,
    /// Own assets.
    OwnAssets,
    /// A pension.
    Pension,
    /// Unterhaltsvorschuss.
    ChildMaintenanceAdvance,
    /// Krankengeld.
    SicknessBenefit,
    /// BAföG, Berufsausbildungsbeihilfe.
    TrainingAllowance,
    /// Another claim (say which in the note).
    Other,
}

impl From<Claim> for pb::PriorityClaim {
    fn from(value: Claim) -> Self {
        match value {
            Claim::UnemploymentBenefit => pb::PriorityClaim::UnemploymentBenefit,
            Claim::JobCenter => pb::PriorityClaim::JobCenter,
            Claim::HousingBenefit => pb::PriorityClaim::HousingBenefit,
            Claim::ChildBenefit => pb::PriorityClaim::ChildBenefit,
            Claim::Maintenance => pb::PriorityClaim::Maintenance,
            Claim::OwnIncome => pb::PriorityClaim::OwnIncome,
            Claim::OwnAssets => pb::PriorityClaim::OwnAssets,
            Claim::Pension => pb::PriorityClaim::Pension,
            Claim::ChildMaintenanceAdvance => pb::PriorityClaim::ChildMaintenanceAdvance,
            Claim::SicknessBenefit => pb::PriorityClaim::SicknessBenefit,
            Claim::TrainingAllowance => pb::PriorityClaim::TrainingAllowance,
            Claim::Other => pb::PriorityClaim::Other,
        }
    }
}

/// How a person came (`visit register --kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VisitKind {
    /// Without an appointment.
    WalkIn,
    /// To an appointment.
    Appointment,
    /// Back to follow up an earlier visit.
    FollowUp,
}

impl From<VisitKind> for pb::VisitKind {
    fn from(value: VisitKind) -> Self {
        match value {
            VisitKind::WalkIn => pb::VisitKind::WalkIn,
            VisitKind::Appointment => pb::VisitKind::Appointment,
            VisitKind::FollowUp => pb::VisitKind::FollowUp,
        }
    }
}

/// Why a visit ends without a consultation (`visit end --reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EndReason {
    /// The person left before being seen.
    Left,
    /// Sent to a priority provider.
    PriorityProvider,
    /// No need of assistance.
    NoNeed,
    /// Given an appointment for another day.
    AppointmentLater,
    /// Another office is locally responsible (say where in --note).
    NotLocallyResponsible,
}

impl From<EndReason> for pb::VisitEndReason {
    fn from(value: EndReason) -> Self {
        match value {
            EndReason::Left => pb::VisitEndReason::Left,
            EndReason::PriorityProvider => pb::VisitEndReason::PriorityProvider,
            EndReason::NoNeed => pb::VisitEndReason::NoNeed,
            EndReason::AppointmentLater => pb::VisitEndReason::AppointmentLater,
            EndReason::NotLocallyResponsible => pb::VisitEndReason::NotLocallyResponsible,
        }
    }
}

/// What checking a claim found (the right side of `--claim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Outcome {
    /// No such claim.
    None,
    /// Exists and is already being paid.
    Received,
    /// Likely exists; to be applied for with its provider.
    ToBeApplied,
    /// Not settled today.
    Unclear,
}

impl From<Outcome> for pb::ClaimOutcome {
    fn from(value: Outcome) -> Self {
        match value {
            Outcome::None => pb::ClaimOutcome::None,
            Outcome::Received => pb::ClaimOutcome::Received,
            Outcome::ToBeApplied => pb::ClaimOutcome::ToBeApplied,
            Outcome::Unclear => pb::ClaimOutcome::Unclear,
        }
    }
}

/// The assessed capacity to work (`consult complete --capacity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Capacity {
    /// Six hours a day or more.
    Full,
    /// Three to six hours a day.
    Partial,
    /// Less than three hours a day.
    None,
    /// Not yet determined (no guessing; an assessment is to follow).
    NotYetDetermined,
}

impl From<Capacity> for types::CapacityToWork {
    fn from(value: Capacity) -> Self {
        match value {
            Capacity::Full => types::CapacityToWork::Full,
            Capacity::Partial => types::CapacityToWork::Partial,
            Capacity::None => types::CapacityToWork::None,
            Capacity::NotYetDetermined => types::CapacityToWork::NotYetDetermined,
        }
    }
}

/// What the assessed capacity rests on (`--capacity-basis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Basis {
    /// The person's own account.
    SelfReport,
    /// A medical service's opinion.
    MedicalService,
    /// The pension insurance's assessment.
    PensionInsurance,
}

impl From<Basis> for types::CapacityBasis {
    fn from(value: Basis) -> Self {
        match value {
            Basis::SelfReport => types::CapacityBasis::SelfReport,
            Basis::MedicalService => types::CapacityBasis::MedicalService,
            Basis::PensionInsurance => types::CapacityBasis::PensionInsurance,
        }
    }
}

/// The activation track (`--track`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Track {
    /// Ready for job placement now (needs capacity full or partial).
    JobPlacement,
    /// Activatable with support first.
    WithSupport,
    /// Not activatable in the short term.
    NotShortTerm,
}

impl From<Track> for types::ActivationTrack {
    fn from(value: Track) -> Self {
        match value {
            Track::JobPlacement => types::ActivationTrack::JobPlacement,
            Track::WithSupport => types::ActivationTrack::WithSupport,
            Track::NotShortTerm => types::ActivationTrack::NotShortTerm,
        }
    }
}

/// A barrier noted in the consultation (`--barrier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Barrier {
    /// Childcare is not arranged.
    Childcare,
    /// Health.
    Health,
    /// Debt.
    Debt,
    /// Addiction.
    Addiction,
    /// Housing.
    Housing,
    /// Language.
    Language,
    /// Qualification.
    Qualification,
    /// Caring for relatives.
    CaringForRelatives,
    /// Mental health.
    MentalHealth,
    /// Residence or work permit.
    ResidenceOrWorkPermit,
    /// Mobility.
    Mobility,
    /// Another barrier (say which in the notes).
    Other,
}

impl From<Barrier> for types::Barrier {
    fn from(value: Barrier) -> Self {
        match value {
            Barrier::Childcare => types::Barrier::Childcare,
            Barrier::Health => types::Barrier::Health,
            Barrier::Debt => types::Barrier::Debt,
            Barrier::Addiction => types::Barrier::Addiction,
            Barrier::Housing => types::Barrier::Housing,
            Barrier::Language => types::Barrier::Language,
            Barrier::Qualification => types::Barrier::Qualification,
            Barrier::CaringForRelatives => types::Barrier::CaringForRelatives,
            Barrier::MentalHealth => types::Barrier::MentalHealth,
            Barrier::ResidenceOrWorkPermit => types::Barrier::ResidenceOrWorkPermit,
            Barrier::Mobility => types::Barrier::Mobility,
            Barrier::Other => types::Barrier::Other,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fallwerk_platform::wire::wire_date;
    use fallwerk_proto::google::r#type::Date;

    #[test]
    fn a_birth_date_may_leave_day_or_month_unknown() {
        let d = |year, month, day| Date { year, month, day };
        assert_eq!(birth_date("1985-03-14"), Ok(d(1985, 3, 14)));
        assert_eq!(birth_date("1985-03"), Ok(d(1985, 3, 0)));
        assert_eq!(birth_date("1985"), Ok(d(1985, 0, 0)));
        for bad in ["85", "1985-13", "1985-3", "1985-03-32", "x"] {
            assert!(birth_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_date_is_read_as_year_month_day() {
        let parsed = date("1985-03-14").map(wire_date);
        assert_eq!(
            parsed,
            Ok(Date {
                year: 1985,
                month: 3,
                day: 14
            })
        );
    }

    #[test]
    fn a_short_or_impossible_date_is_refused() {
        for text in [
            "85-03-14",
            "1985-3-14",
            "14.03.1985",
            "1985-02-30",
            "1985-03-14x",
            "",
        ] {
            assert!(date(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn a_claim_check_is_claim_equals_outcome() {
        assert_eq!(
            claim_check("housing-benefit=to-be-applied"),
            Ok(ClaimCheck {
                claim: Claim::HousingBenefit,
                outcome: Outcome::ToBeApplied,
            })
        );
        let check = pb::ClaimCheck::from(ClaimCheck {
            claim: Claim::OwnIncome,
            outcome: Outcome::None,
        });
        assert_eq!(check.claim(), pb::PriorityClaim::OwnIncome);
        assert_eq!(check.outcome(), pb::ClaimOutcome::None);
    }

    #[test]
    fn a_claim_check_without_equals_or_with_unknown_names_says_what_is_valid() {
        let missing = claim_check("housing-benefit").unwrap_err();
        assert!(missing.contains("<claim>=<outcome>"), "{missing}");
        let claim = claim_check("rent=none").unwrap_err();
        assert!(
            claim.contains("unknown claim `rent`") && claim.contains("housing-benefit"),
            "{claim}"
        );
        let outcome = claim_check("job-center=maybe").unwrap_err();
        assert!(
            outcome.contains("unknown outcome `maybe`") && outcome.contains("to-be-applied"),
            "{outcome}"
        );
    }

    /// Each choice's kebab-case name, prefixed and upper-cased, is its proto value's name, so
    /// the command line and `--json` output speak the same vocabulary.
    pub(crate) fn assert_names_match<T, P>(prefix: &str, proto_name: fn(&P) -> &'static str)
    where
        T: ValueEnum,
        P: From<T>,
    {
        for value in T::value_variants() {
            let cli = value
                .to_possible_value()
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default();
            let expected = format!("{prefix}{}", cli.to_uppercase().replace('-', "_"));
            assert_eq!(proto_name(&P::from(value.clone())), expected);
        }
    }

    #[test]
    fn every_choice_maps_to_the_proto_value_of_the_same_name() {
        assert_names_match::<Function, pb::AdvisorFunction>(
            "ADVISOR_FUNCTION_",
            pb::AdvisorFunction::as_str_name,
        );
        assert_names_match::<Decision, pb::AccessDecision>(
            "ACCESS_DECISION_",
            pb::AccessDecision::as_str_name,
        );
        assert_names_match::<Document, pb::IdentityDocument>(
            "IDENTITY_DOCUMENT_",
            pb::IdentityDocument::as_str_name,
        );
        assert_names_match::<Status, pb::ResidenceStatus>(
            "RESIDENCE_STATUS_",
            pb::ResidenceStatus::as_str_name,
        );
        assert_names_match::<Channel, types::ContactChannel>(
            "CONTACT_CHANNEL_",
            types::ContactChannel::as_str_name,
        );
        assert_names_match::<Claim, pb::PriorityClaim>(
            "PRIORITY_CLAIM_",
            pb::PriorityClaim::as_str_name,
        );
        assert_names_match::<Outcome, pb::ClaimOutcome>(
            "CLAIM_OUTCOME_",
            pb::ClaimOutcome::as_str_name,
        );
        assert_names_match::<Capacity, types::CapacityToWork>(
            "CAPACITY_TO_WORK_",
            types::CapacityToWork::as_str_name,
        );
        assert_names_match::<Track, types::ActivationTrack>(
            "ACTIVATION_TRACK_",
            types::ActivationTrack::as_str_name,
        );
        assert_names_match::<Barrier, types::Barrier>("BARRIER_", types::Barrier::as_str_name);
    }

    #[test]
    fn a_role_is_read_in_token_or_kebab_spelling() {
        assert_eq!(role("front_desk"), Ok(Role::FrontDesk));
        assert_eq!(role("team-lead"), Ok(Role::TeamLead));
        let unknown = role("boss").unwrap_err();
        assert!(unknown.contains("front_desk"), "{unknown}");
    }

    #[test]
    fn an_address_needs_a_scheme_and_a_host() {
        assert!(address("http://127.0.0.1:50051").is_ok());
        assert!(address("https://intake.example:443").is_ok());
        assert!(address("127.0.0.1:50051").is_err());
        assert!(address("ftp://host").is_err());
    }

    #[test]
    fn a_token_becomes_a_bearer_value() {
        let value = bearer(" abc.def.ghi\n").ok();
        assert_eq!(
            value.as_ref().and_then(|v| v.to_str().ok()),
            Some("Bearer abc.def.ghi")
        );
        assert!(bearer("  ").is_err());
    }
}
