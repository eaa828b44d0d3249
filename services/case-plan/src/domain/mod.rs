//! case-plan's rules, free of I/O and of the wire: the case's way from opening to closure,
//! what a help plan revision must hold, and how two revisions differ. The values here are what
//! the database stores (CHECK constraints allow exactly them).

mod agreement;
mod plan;

use chrono::NaiveDate;
use fallwerk_platform::{id_type, stored_enum};
use fallwerk_proto::caseplan::ErrorReason;

pub use agreement::{
    Acknowledgement, AcknowledgementChannel, AgreementForm, AgreementState, AgreementStatus,
    CommentAuthor, DisputeOutcome,
};
pub use plan::{
    Goal, GoalCategory, GoalStatus, Goals, ItemChange, PlanDiff, RevisionCause, Step, StepOwner,
    StepStatus, diff, next_due_date,
};

pub use fallwerk_platform::vocabulary::{ActivationTrack, Barrier, CapacityToWork, LegalBasis};

id_type!(
    /// A case (the id intake gave it).
    CaseId,
    /// An applicant at intake.
    ApplicantId,
    /// An activation team.
    TeamId,
    /// An advisor in intake's roster.
    AdvisorId,
    /// A first consultation at intake.
    ConsultationId,
    /// A help plan goal, the same across revisions.
    GoalId,
    /// A step towards a goal, the same across revisions.
    StepId,
    /// A help agreement.
    AgreementId,
    /// A review of the plan.
    ReviewId,
);

stored_enum!(
    /// Where a case stands.
    CaseState {
        /// Worked on.
        Open = "open",
        /// Closed with an outcome.
        Closed = "closed",
    }
);

impl CaseState {
    /// A closed case takes no more changes (until reopened).
    pub fn may_change(self) -> Result<(), StateError> {
        match self {
            CaseState::Open => Ok(()),
            CaseState::Closed => Err(StateError::CaseClosed),
        }
    }

    /// Follow-up and reopening are for closed cases.
    pub fn must_be_closed(self) -> Result<(), StateError> {
        match self {
            CaseState::Closed => Ok(()),
            CaseState::Open => Err(StateError::CaseOpen),
        }
    }
}

stored_enum!(
    /// How a case ended.
    CaseOutcome {
        /// Work taken up.
        WorkTakenUp = "work_taken_up",
        /// Training or qualification started.
        TrainingStarted = "training_started",
        /// Independent of assistance for another reason.
        IndependentOfAssistance = "independent_of_assistance",
        /// Another authority is responsible.
        Transferred = "transferred",
        /// Moved out of the area.
        MovedAway = "moved_away",
        /// No longer cooperating.
        NoLongerCooperating = "no_longer_cooperating",
        /// Died.
        Deceased = "deceased",
        /// Another reason, given in the note.
        Other = "other",
    }
);

/// A closure as asked for.
#[derive(Debug, Clone)]
pub struct Closure {
    /// The outcome.
    pub outcome: CaseOutcome,
    /// Free note.
    pub note: String,
    /// The day to check whether the effect lasted.
    pub follow_up_date: NaiveDate,
}

/// Why a closure is not acceptable as sent; each names its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosureProblem {
    /// The follow-up must come after the closing day.
    FollowUpNotAfterClosing,
    /// OTHER needs a note saying what happened.
    OtherWithoutNote,
}

impl Closure {
    /// Checks the closure against the closing day.
    pub fn problems(&self, closing_day: NaiveDate) -> Vec<ClosureProblem> {
        let mut problems = Vec::new();
        if self.follow_up_date <= closing_day {
            problems.push(ClosureProblem::FollowUpNotAfterClosing);
        }
        if self.outcome == CaseOutcome::Other && self.note.trim().is_empty() {
            problems.push(ClosureProblem::OtherWithoutNote);
        }
        problems
    }
}

stored_enum!(
    /// Whether the effect of a closed case lasted.
    FollowUpResult {
        /// It lasted.
        Lasting = "lasting",
        /// It did not.
        NotLasting = "not_lasting",
        /// The client could not be reached.
        Unreachable = "unreachable",
    }
);

stored_enum!(
    /// How far a goal got by a review.
    GoalProgress {
        /// None.
        None = "none",
        /// Some.
        Some = "some",
        /// Reached.
        Reached = "reached",
    }
);

stored_enum!(
    /// What happened in a case (its timeline).
    TimelineKind {
        /// Opened at intake.
        Opened = "opened",
        /// Legal basis set.
        LegalBasisSet = "legal_basis_set",
        /// Plan revised.
        PlanRevised = "plan_revised",
        /// Plan revision approved.
        PlanApproved = "plan_approved",
        /// Agreement drafted.
        AgreementDrafted = "agreement_drafted",
        /// Agreement proposed.
        AgreementProposed = "agreement_proposed",
        /// Comment recorded.
        AgreementCommented = "agreement_commented",
        /// Agreement agreed.
        AgreementAgreed = "agreement_agreed",
        /// Agreement declined.
        AgreementDeclined = "agreement_declined",
        /// Agreement disputed.
        AgreementDisputed = "agreement_disputed",
        /// Dispute resolved.
        DisputeResolved = "dispute_resolved",
        /// Review recorded.
        Reviewed = "reviewed",
        /// Reassigned.
        Reassigned = "reassigned",
        /// Closed.
        Closed = "closed",
        /// Follow-up recorded.
        FollowedUp = "followed_up",
        /// Reopened.
        Reopened = "reopened",
        /// A referral to a partner changed.
        ReferralChanged = "referral_changed",
    }
);

stored_enum!(
    /// What is due in a case ("what needs me today").
    DueKind {
        /// The plan's review.
        Review = "review",
        /// A planned step past its day.
        StepOverdue = "step_overdue",
        /// The agreement in force ends soon.
        AgreementExpiring = "agreement_expiring",
        /// A closed case's follow-up.
        FollowUp = "follow_up",
    }
);

/// A rule of the case's way that a request would break (FAILED_PRECONDITION).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The case is closed.
    #[error("the case is closed")]
    CaseClosed,
    /// The first revision must be the first plan, and only it.
    #[error("the first plan revision has cause FIRST_PLAN, and no later one has")]
    FirstPlanCause,
    /// The case is open.
    #[error("the case is open")]
    CaseOpen,
    /// The follow-up is recorded.
    #[error("the case's follow-up is already recorded")]
    FollowUpRecorded,
    /// No legal basis yet.
    #[error("the case's legal basis decides the agreement's form: set it first")]
    LegalBasisRequired,
    /// No plan yet.
    #[error("an agreement rests on a plan revision: make the plan first")]
    PlanRequired,
    /// Another agreement is being worked out.
    #[error("another agreement of this case is still a draft or proposal")]
    AgreementInProgress,
    /// Not a draft.
    #[error("only a draft changes or is proposed; a change of an agreement makes a new one")]
    AgreementNotDraft,
    /// Closed to comments.
    #[error("comments are taken on drafts, proposals and disputed agreements only")]
    AgreementClosedToComments,
    /// Not a proposal.
    #[error("only a proposal can be agreed or declined")]
    AgreementNotProposed,
    /// Cannot be disputed.
    #[error("only a proposal or the agreement in force can be disputed")]
    AgreementNotDisputable,
    /// Not disputed.
    #[error("the agreement is not disputed")]
    AgreementNotDisputed,
    /// A signed agreement needs both signatures.
    #[error("a signed agreement needs the client's and the office's signature")]
    SignaturesRequired,
    /// A written agreement needs the client's assent.
    #[error("a written agreement under § 12 SGB XII exists only with the client's assent")]
    ClientAssentRequired,
    /// The revision needs the team lead's approval.
    #[error("the team requires the team lead's approval of the plan revision first")]
    RevisionNotApproved,
    /// The revision is approved.
    #[error("the plan revision is already approved")]
    RevisionAlreadyApproved,
    /// The target advisor is not active in the team.
    #[error("the advisor is not an active advisor of the case's team")]
    AdvisorNotAvailable,
}

impl StateError {
    /// The `ErrorInfo` reason for this violation.
    pub fn reason(self) -> ErrorReason {
        match self {
            StateError::CaseClosed => ErrorReason::CaseClosed,
            StateError::FirstPlanCause => ErrorReason::FirstPlanCause,
            StateError::CaseOpen => ErrorReason::CaseOpen,
            StateError::FollowUpRecorded => ErrorReason::FollowUpRecorded,
            StateError::LegalBasisRequired => ErrorReason::LegalBasisRequired,
            StateError::PlanRequired => ErrorReason::PlanRequired,
            StateError::AgreementInProgress => ErrorReason::AgreementInProgress,
            StateError::AgreementNotDraft => ErrorReason::AgreementNotDraft,
            StateError::AgreementClosedToComments => ErrorReason::AgreementClosedToComments,
            StateError::AgreementNotProposed => ErrorReason::AgreementNotProposed,
            StateError::AgreementNotDisputable => ErrorReason::AgreementNotDisputable,
            StateError::AgreementNotDisputed => ErrorReason::AgreementNotDisputed,
            StateError::SignaturesRequired => ErrorReason::SignaturesRequired,
            StateError::ClientAssentRequired => ErrorReason::ClientAssentRequired,
            StateError::RevisionNotApproved => ErrorReason::RevisionNotApproved,
            StateError::RevisionAlreadyApproved => ErrorReason::RevisionAlreadyApproved,
            StateError::AdvisorNotAvailable => ErrorReason::AdvisorNotAvailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closure_needs_a_later_follow_up_and_a_note_for_other() {
        let closing = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let closure = Closure {
            outcome: CaseOutcome::Other,
            note: " ".into(),
            follow_up_date: closing,
        };
        assert_eq!(
            closure.problems(closing),
            vec![
                ClosureProblem::FollowUpNotAfterClosing,
                ClosureProblem::OtherWithoutNote
            ]
        );
    }
}
