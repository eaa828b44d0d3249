//! partner's rules, free of I/O and of the wire: what a consent must cover, a referral's way
//! from sent to finished, and how places are taken and freed. The values here are what the
//! database stores (CHECK constraints allow exactly them).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use fallwerk_platform::{id_type, stored_enum};
use fallwerk_proto::partner::ErrorReason;

id_type!(
    /// A cooperation partner (the `partner_id` claim of its system's tokens).
    PartnerId,
    /// An offer of a partner.
    OfferId,
    /// A case (case-plan's id).
    CaseId,
    /// A team.
    TeamId,
    /// A consent.
    ConsentId,
    /// A referral.
    ReferralId,
    /// A plan step (case-plan's id).
    StepId,
);

stored_enum!(
    /// The kind of a partner.
    PartnerKind {
        /// Employment agency or Job-Center.
        JobCenter = "job_center",
        /// Public health office.
        PublicHealthOffice = "public_health_office",
        /// A welfare association's specialist service.
        WelfareAssociation = "welfare_association",
        /// A municipal service.
        MunicipalService = "municipal_service",
        /// Another kind.
        Other = "other",
    }
);

stored_enum!(
    /// What an offer is about.
    OfferCategory {
        /// Job placement.
        JobPlacement = "job_placement",
        /// Qualification.
        Qualification = "qualification",
        /// Debt counselling.
        DebtCounselling = "debt_counselling",
        /// Addiction counselling.
        AddictionCounselling = "addiction_counselling",
        /// Childcare.
        Childcare = "childcare",
        /// Health assessment.
        HealthAssessment = "health_assessment",
        /// Housing support.
        HousingSupport = "housing_support",
        /// Psychosocial support.
        PsychosocialSupport = "psychosocial_support",
        /// Language course.
        LanguageCourse = "language_course",
        /// Other.
        Other = "other",
    }
);

stored_enum!(
    /// A kind of a client's data a consent covers and a referral carries.
    DataCategory {
        /// Name and date of birth.
        Identity = "identity",
        /// How to reach the client.
        Contact = "contact",
        /// Household.
        Household = "household",
        /// The plan step.
        PlanSteps = "plan_steps",
        /// Employment history.
        EmploymentHistory = "employment_history",
        /// Health and addiction (Art. 9 GDPR).
        Health = "health",
        /// Finances and debt.
        Finances = "finances",
        /// The advisor's notes.
        Notes = "notes",
    }
);

stored_enum!(
    /// The form a consent was given in.
    ConsentForm {
        /// On paper.
        Written = "written",
        /// Electronically.
        Electronic = "electronic",
    }
);

/// A consent as far as a referral's check needs it.
#[derive(Debug, Clone)]
pub struct ConsentTerms {
    /// Its id.
    pub id: ConsentId,
    /// The partner it names.
    pub partner: PartnerId,
    /// The categories it covers.
    pub categories: BTreeSet<DataCategory>,
    /// First day valid.
    pub given_date: NaiveDate,
    /// Last day valid.
    pub valid_until: NaiveDate,
    /// Revoked.
    pub revoked: bool,
}

impl ConsentTerms {
    /// Whether it is in force on `today`.
    pub fn in_force(&self, today: NaiveDate) -> bool {
        !self.revoked && self.given_date <= today && today <= self.valid_until
    }
}

/// The consent among `consents` that lets `partner` receive `wanted` on `today`; otherwise
/// the categories no consent in force for that partner covers (all of them when there is
/// none).
pub fn covering_consent(
    consents: &[ConsentTerms],
    partner: PartnerId,
    wanted: &BTreeSet<DataCategory>,
    today: NaiveDate,
) -> Result<ConsentId, Vec<DataCategory>> {
    let in_force: Vec<&ConsentTerms> = consents
        .iter()
        .filter(|c| c.partner == partner && c.in_force(today))
        .collect();
    if let Some(consent) = in_force.iter().find(|c| wanted.is_subset(&c.categories)) {
        return Ok(consent.id);
    }
    // Name what the best consent lacks, so the advisor knows what to ask the client for.
    let missing = in_force
        .iter()
        .map(|c| {
            wanted
                .difference(&c.categories)
                .copied()
                .collect::<Vec<_>>()
        })
        .min_by_key(Vec::len)
        .unwrap_or_else(|| wanted.iter().copied().collect());
    Err(missing)
}

stored_enum!(
    /// Where a referral stands.
    ReferralState {
        /// Sent, awaiting the partner's answer.
        Sent = "sent",
        /// Waiting for a place.
        Waiting = "waiting",
        /// Accepted: holds a place.
        Accepted = "accepted",
        /// The measure started: still holds its place.
        InProgress = "in_progress",
        /// Declined by the partner.
        Declined = "declined",
        /// Completed.
        Completed = "completed",
        /// Ended early.
        EndedEarly = "ended_early",
        /// Withdrawn by the advisor.
        Withdrawn = "withdrawn",
        /// Closed with its case.
        Closed = "closed",
    }
);

impl ReferralState {
    /// Nothing more happens to a finished referral.
    pub fn finished(self) -> bool {
        matches!(
            self,
            ReferralState::Declined
                | ReferralState::Completed
                | ReferralState::EndedEarly
                | ReferralState::Withdrawn
                | ReferralState::Closed
        )
    }

    /// Only a sent referral is accepted.
    pub fn accept(self) -> Result<ReferralState, StateError> {
        match self {
            ReferralState::Sent => Ok(ReferralState::Accepted),
            _ => Err(StateError::ReferralNotSent),
        }
    }

    /// A sent or waiting referral can be declined.
    pub fn decline(self) -> Result<ReferralState, StateError> {
        match self {
            ReferralState::Sent | ReferralState::Waiting => Ok(ReferralState::Declined),
            _ => Err(StateError::ReferralNotSent),
        }
    }

    /// An accepted or started referral is finished with `outcome`.
    pub fn complete(self, outcome: ReferralOutcome) -> Result<ReferralState, StateError> {
        match self {
            ReferralState::Accepted | ReferralState::InProgress
                if outcome == ReferralOutcome::Completed =>
            {
                Ok(ReferralState::Completed)
            }
            ReferralState::Accepted | ReferralState::InProgress => Ok(ReferralState::EndedEarly),
            _ => Err(StateError::ReferralNotAccepted),
        }
    }

    /// The state after the partner reports `progress`: a start moves it in progress.
    pub fn report(self, progress: Progress) -> Result<ReferralState, StateError> {
        match (self, progress) {
            (ReferralState::Accepted | ReferralState::InProgress, Progress::Started) => {
                Ok(ReferralState::InProgress)
            }
            (ReferralState::Accepted | ReferralState::InProgress, _) => Ok(self),
            _ => Err(StateError::ReferralNotAccepted),
        }
    }

    /// Withdrawn by the advisor (`closed`: because the case closed), unless finished.
    pub fn end(self, closed: bool) -> Result<ReferralState, StateError> {
        if self.finished() {
            return Err(StateError::ReferralFinished);
        }
        Ok(if closed {
            ReferralState::Closed
        } else {
            ReferralState::Withdrawn
        })
    }

    /// Whether leaving this state frees a place of the offer.
    pub fn holds_place(self) -> bool {
        matches!(self, ReferralState::Accepted | ReferralState::InProgress)
    }
}

stored_enum!(
    /// How a referral goes, as its partner reports it.
    Progress {
        /// The client came.
        Attended = "attended",
        /// The measure started.
        Started = "started",
        /// The measure is interrupted.
        Interrupted = "interrupted",
    }
);

stored_enum!(
    /// How a partner finished a referral.
    ReferralOutcome {
        /// Completed.
        Completed = "completed",
        /// The client stopped attending.
        StoppedAttending = "stopped_attending",
        /// Not suitable.
        NotSuitable = "not_suitable",
        /// Another reason.
        Other = "other",
    }
);

/// A rule a request would break (FAILED_PRECONDITION, or RESOURCE_EXHAUSTED for a full offer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The case is closed.
    #[error("the case is closed")]
    CaseClosed,
    /// The partner is inactive.
    #[error("the partner is inactive")]
    PartnerInactive,
    /// The consent is revoked.
    #[error("the consent is already revoked")]
    ConsentRevoked,
    /// Not a sent referral.
    #[error("only a sent referral can be accepted or declined")]
    ReferralNotSent,
    /// Not an accepted referral.
    #[error("only an accepted referral can be completed")]
    ReferralNotAccepted,
    /// The referral is finished.
    #[error("the referral is finished")]
    ReferralFinished,
    /// No free place.
    #[error("the offer has no free place")]
    OfferFull,
    /// A note without a consent covering notes.
    #[error("the client's consent for this referral does not cover notes")]
    NoteNotConsented,
}

impl StateError {
    /// The `ErrorInfo` reason for this violation.
    pub fn reason(self) -> ErrorReason {
        match self {
            StateError::CaseClosed => ErrorReason::CaseClosed,
            StateError::PartnerInactive => ErrorReason::PartnerInactive,
            StateError::ConsentRevoked => ErrorReason::ConsentRevoked,
            StateError::ReferralNotSent => ErrorReason::ReferralNotSent,
            StateError::ReferralNotAccepted => ErrorReason::ReferralNotAccepted,
            StateError::ReferralFinished => ErrorReason::ReferralFinished,
            StateError::OfferFull => ErrorReason::OfferFull,
            StateError::NoteNotConsented => ErrorReason::NoteNotConsented,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    fn consent(n: u128, partner: u128, categories: &[DataCategory]) -> ConsentTerms {
        ConsentTerms {
            id: ConsentId(Uuid::from_u128(n)),
            partner: PartnerId(Uuid::from_u128(partner)),
            categories: categories.iter().copied().collect(),
            given_date: day(1, 1),
            valid_until: day(12, 31),
            revoked: false,
        }
    }

    #[test]
    fn a_referral_needs_a_consent_in_force_for_its_partner_covering_every_category() {
        use DataCategory::*;
        let partner = PartnerId(Uuid::from_u128(7));
        let wanted: BTreeSet<_> = [Identity, Health].into();
        let today = day(6, 1);
        let narrow = consent(1, 7, &[Identity, PlanSteps]);
        let other_partner = consent(2, 8, &[Identity, Health]);
        assert_eq!(
            covering_consent(&[narrow.clone(), other_partner], partner, &wanted, today),
            Err(vec![Health])
        );
        let mut revoked = consent(3, 7, &[Identity, Health]);
        revoked.revoked = true;
        let mut expired = consent(4, 7, &[Identity, Health]);
        expired.valid_until = day(5, 31);
        assert_eq!(
            covering_consent(&[revoked, expired], partner, &wanted, today),
            Err(vec![Identity, Health])
        );
        let broad = consent(5, 7, &[Identity, Health, Household]);
        assert_eq!(
            covering_consent(&[narrow, broad], partner, &wanted, today),
            Ok(ConsentId(Uuid::from_u128(5)))
        );
    }

    #[test]
    fn a_referral_goes_from_sent_to_a_finish_and_only_acceptance_holds_a_place() {
        use ReferralState::*;
        assert_eq!(Sent.accept(), Ok(Accepted));
        assert_eq!(Waiting.accept(), Err(StateError::ReferralNotSent));
        assert_eq!(Accepted.complete(ReferralOutcome::Completed), Ok(Completed));
        assert_eq!(
            Accepted.complete(ReferralOutcome::NotSuitable),
            Ok(EndedEarly)
        );
        assert_eq!(
            Sent.complete(ReferralOutcome::Completed),
            Err(StateError::ReferralNotAccepted)
        );
        assert_eq!(Accepted.end(true), Ok(Closed));
        assert_eq!(Completed.end(false), Err(StateError::ReferralFinished));
        assert!(Accepted.holds_place() && !Sent.holds_place() && !Waiting.holds_place());
        assert_eq!(Accepted.report(Progress::Started), Ok(InProgress));
        assert_eq!(InProgress.report(Progress::Interrupted), Ok(InProgress));
        assert_eq!(
            Sent.report(Progress::Attended),
            Err(StateError::ReferralNotAccepted)
        );
        assert_eq!(
            InProgress.complete(ReferralOutcome::Completed),
            Ok(Completed)
        );
        assert!(InProgress.holds_place());
    }
}
