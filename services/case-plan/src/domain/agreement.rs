//! The help agreement's rules: the legal form the case's basis gives, how each form is agreed
//! and reviewed, and an agreement's way from draft to its end.

use chrono::{Months, NaiveDate};
use fallwerk_platform::stored_enum;

use super::{LegalBasis, StateError};

stored_enum!(
    /// The legal form of a help agreement.
    AgreementForm {
        /// Signed by both sides (legal basis other).
        SignedAgreement = "signed_agreement",
        /// Cooperation plan, § 15 SGB II: text form, reviewed within six months.
        CooperationPlan = "cooperation_plan",
        /// Written agreement, § 12 SGB XII: only with the client's assent.
        WrittenAgreement = "written_agreement",
    }
);

impl AgreementForm {
    /// The form the law gives for a case on `basis`.
    pub fn of(basis: LegalBasis) -> Self {
        match basis {
            LegalBasis::SgbIi => AgreementForm::CooperationPlan,
            LegalBasis::SgbXiiChapter3 => AgreementForm::WrittenAgreement,
            LegalBasis::Other => AgreementForm::SignedAgreement,
        }
    }

    /// The latest review day the form allows for an agreement agreed on `day`: six months for
    /// a cooperation plan (§ 15 Abs. 3 SGB II), twelve months by the office's rule otherwise.
    pub fn latest_review(self, day: NaiveDate) -> NaiveDate {
        let months = match self {
            AgreementForm::CooperationPlan => 6,
            AgreementForm::SignedAgreement | AgreementForm::WrittenAgreement => 12,
        };
        day.checked_add_months(Months::new(months))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Whether `acknowledgement` is the way this form is agreed.
    pub fn accepts(self, acknowledgement: &Acknowledgement) -> Result<(), StateError> {
        match self {
            AgreementForm::SignedAgreement
                if !(acknowledgement.client_signed && acknowledgement.office_signed) =>
            {
                Err(StateError::SignaturesRequired)
            }
            AgreementForm::WrittenAgreement if !acknowledgement.client_assent => {
                Err(StateError::ClientAssentRequired)
            }
            _ => Ok(()),
        }
    }
}

stored_enum!(
    /// How the client's agreement was given.
    AcknowledgementChannel {
        /// In person.
        InPerson = "in_person",
        /// By letter.
        Letter = "letter",
        /// By e-mail.
        Email = "email",
        /// Through the portal.
        Portal = "portal",
    }
);

/// How an agreement was agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The channel.
    pub channel: AcknowledgementChannel,
    /// The client signed.
    pub client_signed: bool,
    /// The office signed.
    pub office_signed: bool,
    /// The client assented (§ 12 SGB XII).
    pub client_assent: bool,
}

stored_enum!(
    /// Where an agreement stands, as stored. "Active" and "expired" are an agreed agreement
    /// read against the day ([`AgreementStatus`]).
    AgreementState {
        /// Being written.
        Draft = "draft",
        /// Put to the client.
        Proposed = "proposed",
        /// Agreed.
        Agreed = "agreed",
        /// Declined by the client.
        Declined = "declined",
        /// Objected to; paused.
        Disputed = "disputed",
        /// Replaced by a newer agreement.
        Superseded = "superseded",
        /// Ended early.
        Ended = "ended",
    }
);

/// Where an agreement stands on a given day, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementStatus {
    /// See [`AgreementState`].
    Draft,
    /// See [`AgreementState`].
    Proposed,
    /// Agreed, not yet in force.
    Agreed,
    /// See [`AgreementState`].
    Declined,
    /// See [`AgreementState`].
    Disputed,
    /// Agreed and in force.
    Active,
    /// See [`AgreementState`].
    Superseded,
    /// Agreed, and its end date has passed.
    Expired,
    /// See [`AgreementState`].
    Ended,
}

impl AgreementState {
    /// The status on `today` of an agreement in this state, in force from `start` to `end`.
    pub fn status(
        self,
        start: Option<NaiveDate>,
        end: Option<NaiveDate>,
        today: NaiveDate,
    ) -> AgreementStatus {
        match self {
            AgreementState::Draft => AgreementStatus::Draft,
            AgreementState::Proposed => AgreementStatus::Proposed,
            AgreementState::Declined => AgreementStatus::Declined,
            AgreementState::Disputed => AgreementStatus::Disputed,
            AgreementState::Superseded => AgreementStatus::Superseded,
            AgreementState::Ended => AgreementStatus::Ended,
            AgreementState::Agreed if end.is_some_and(|end| end < today) => {
                AgreementStatus::Expired
            }
            AgreementState::Agreed if start.is_some_and(|start| start > today) => {
                AgreementStatus::Agreed
            }
            AgreementState::Agreed => AgreementStatus::Active,
        }
    }

    /// Only a draft changes.
    pub fn may_edit(self) -> Result<(), StateError> {
        match self {
            AgreementState::Draft => Ok(()),
            _ => Err(StateError::AgreementNotDraft),
        }
    }

    /// The state after proposing.
    pub fn propose(self) -> Result<Self, StateError> {
        self.may_edit().map(|()| AgreementState::Proposed)
    }

    /// Comments are taken while the content is still open.
    pub fn may_comment(self) -> Result<(), StateError> {
        match self {
            AgreementState::Draft | AgreementState::Proposed | AgreementState::Disputed => Ok(()),
            _ => Err(StateError::AgreementClosedToComments),
        }
    }

    /// The state after the client agreed.
    pub fn accept(self) -> Result<Self, StateError> {
        match self {
            AgreementState::Proposed => Ok(AgreementState::Agreed),
            _ => Err(StateError::AgreementNotProposed),
        }
    }

    /// The state after the client declined.
    pub fn decline(self) -> Result<Self, StateError> {
        self.accept().map(|_| AgreementState::Declined)
    }

    /// A proposal or an agreement that is not expired can be disputed; the state a dispute
    /// kept as it was returns to.
    pub fn dispute(self, status: AgreementStatus) -> Result<AgreementState, StateError> {
        match (self, status) {
            (AgreementState::Proposed, _) => Ok(AgreementState::Proposed),
            (AgreementState::Agreed, AgreementStatus::Agreed | AgreementStatus::Active) => {
                Ok(AgreementState::Agreed)
            }
            _ => Err(StateError::AgreementNotDisputable),
        }
    }

    /// The state after a dispute ends with `outcome`; `from` is the state it was disputed in.
    pub fn resolve(
        self,
        outcome: DisputeOutcome,
        from: Option<AgreementState>,
    ) -> Result<Self, StateError> {
        match (self, outcome, from) {
            (AgreementState::Disputed, DisputeOutcome::Keep, Some(from)) => Ok(from),
            (AgreementState::Disputed, DisputeOutcome::End, _) => Ok(AgreementState::Ended),
            _ => Err(StateError::AgreementNotDisputed),
        }
    }
}

stored_enum!(
    /// How a dispute ended.
    DisputeOutcome {
        /// The agreement goes on.
        Keep = "keep",
        /// The agreement ends.
        End = "end",
    }
);

stored_enum!(
    /// Who made a comment.
    CommentAuthor {
        /// The client.
        Client = "client",
        /// The office.
        Office = "office",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_legal_basis_has_its_form_and_review_limit() {
        let day = NaiveDate::from_ymd_opt(2026, 8, 31).expect("date");
        let plan = AgreementForm::of(LegalBasis::SgbIi);
        assert_eq!(plan, AgreementForm::CooperationPlan);
        assert_eq!(
            plan.latest_review(day),
            NaiveDate::from_ymd_opt(2027, 2, 28).expect("date")
        );
        assert_eq!(
            AgreementForm::of(LegalBasis::SgbXiiChapter3),
            AgreementForm::WrittenAgreement
        );
        assert_eq!(
            AgreementForm::of(LegalBasis::Other),
            AgreementForm::SignedAgreement
        );
    }

    #[test]
    fn each_form_is_agreed_its_own_way() {
        let ack = |client_signed, office_signed, client_assent| Acknowledgement {
            channel: AcknowledgementChannel::InPerson,
            client_signed,
            office_signed,
            client_assent,
        };
        use AgreementForm::*;
        assert_eq!(
            SignedAgreement.accepts(&ack(true, false, true)),
            Err(StateError::SignaturesRequired)
        );
        assert!(SignedAgreement.accepts(&ack(true, true, false)).is_ok());
        assert_eq!(
            WrittenAgreement.accepts(&ack(true, true, false)),
            Err(StateError::ClientAssentRequired)
        );
        assert!(WrittenAgreement.accepts(&ack(false, false, true)).is_ok());
        assert!(
            CooperationPlan.accepts(&ack(false, false, false)).is_ok(),
            "text form, unsigned"
        );
    }

    #[test]
    fn an_agreed_agreement_is_active_in_its_days_and_never_edited() {
        let d = |m, d| NaiveDate::from_ymd_opt(2027, m, d);
        let today = d(3, 1).expect("date");
        let agreed = AgreementState::Agreed;
        assert_eq!(agreed.status(d(3, 2), None, today), AgreementStatus::Agreed);
        assert_eq!(
            agreed.status(d(2, 1), d(3, 1), today),
            AgreementStatus::Active
        );
        assert_eq!(
            agreed.status(d(1, 1), d(2, 28), today),
            AgreementStatus::Expired
        );
        assert_eq!(agreed.may_edit(), Err(StateError::AgreementNotDraft));
        assert_eq!(agreed.accept(), Err(StateError::AgreementNotProposed));
        assert_eq!(
            agreed.dispute(AgreementStatus::Expired),
            Err(StateError::AgreementNotDisputable)
        );
    }

    #[test]
    fn a_dispute_returns_to_where_it_began_or_ends_the_agreement() {
        let disputed = AgreementState::Disputed;
        assert_eq!(
            disputed.resolve(DisputeOutcome::Keep, Some(AgreementState::Agreed)),
            Ok(AgreementState::Agreed)
        );
        assert_eq!(
            disputed.resolve(DisputeOutcome::End, Some(AgreementState::Proposed)),
            Ok(AgreementState::Ended)
        );
        assert_eq!(
            AgreementState::Proposed.resolve(DisputeOutcome::Keep, None),
            Err(StateError::AgreementNotDisputed)
        );
    }
}
