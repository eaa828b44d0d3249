//! case-plan's rules, free of I/O and of the wire: the case's way from opening to closure,
//! what a help plan revision must hold, and how two revisions differ. The values here are what
//! the database stores (CHECK constraints allow exactly them).

use std::collections::{BTreeMap, HashSet};

use chrono::{Months, NaiveDate};
use fallwerk_platform::{id_type, stored_enum};

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
    /// The area of life a goal belongs to.
    GoalCategory {
        /// Work.
        Work = "work",
        /// Childcare.
        Childcare = "childcare",
        /// Health.
        Health = "health",
        /// Debt.
        Debt = "debt",
        /// Housing.
        Housing = "housing",
        /// Language.
        Language = "language",
        /// Qualification.
        Qualification = "qualification",
        /// Social stability.
        SocialStability = "social_stability",
        /// Other.
        Other = "other",
    }
);

stored_enum!(
    /// Where a goal stands.
    GoalStatus {
        /// Worked on.
        Open = "open",
        /// Reached.
        Achieved = "achieved",
        /// Given up or replaced.
        Dropped = "dropped",
    }
);

stored_enum!(
    /// Who does a step.
    StepOwner {
        /// The client.
        Client = "client",
        /// The office.
        Office = "office",
        /// A cooperation partner.
        Partner = "partner",
    }
);

stored_enum!(
    /// Where a step stands.
    StepStatus {
        /// To be done.
        Planned = "planned",
        /// Done.
        Done = "done",
        /// Not needed any more.
        Cancelled = "cancelled",
    }
);

stored_enum!(
    /// Why a plan revision was made.
    RevisionCause {
        /// The case's first plan.
        FirstPlan = "first_plan",
        /// A review.
        Review = "review",
        /// The client asked.
        ClientRequest = "client_request",
        /// A dispute was resolved.
        DisputeResolution = "dispute_resolution",
    }
);

impl RevisionCause {
    /// The first revision is the first plan, and only the first.
    pub fn fits(self, revision: i32) -> Result<(), StateError> {
        if (revision == 1) == (self == RevisionCause::FirstPlan) {
            Ok(())
        } else {
            Err(StateError::FirstPlanCause)
        }
    }
}

/// A step of a plan revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Id, kept across revisions.
    pub id: StepId,
    /// What is to be done.
    pub action: String,
    /// Who does it.
    pub owner: StepOwner,
    /// By when.
    pub due_date: Option<NaiveDate>,
    /// Where it stands.
    pub status: StepStatus,
}

/// A goal of a plan revision with its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    /// Id, kept across revisions.
    pub id: GoalId,
    /// Area of life.
    pub category: GoalCategory,
    /// In the client's own words.
    pub own_words: String,
    /// By when.
    pub target_date: Option<NaiveDate>,
    /// Where it stands.
    pub status: GoalStatus,
    /// Steps towards it, in order.
    pub steps: Vec<Step>,
}

/// The goals of one plan revision, in order.
pub type Goals = Vec<Goal>;

/// The earliest due day of a step still planned: what the case's urgency is sorted by.
pub fn next_due_date(goals: &[Goal]) -> Option<NaiveDate> {
    goals
        .iter()
        .flat_map(|g| &g.steps)
        .filter(|s| s.status == StepStatus::Planned)
        .filter_map(|s| s.due_date)
        .min()
}

/// What changed in one goal or step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemChange<Id> {
    /// Which goal or step.
    pub id: Id,
    /// The fields that differ.
    pub fields: Vec<&'static str>,
}

/// The structured difference between two revisions, by goal and step identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanDiff {
    /// Goals new in the later revision.
    pub goals_added: Vec<GoalId>,
    /// Goals gone from it.
    pub goals_removed: Vec<GoalId>,
    /// Goals in both that differ.
    pub goals_changed: Vec<ItemChange<GoalId>>,
    /// Steps new in the later revision.
    pub steps_added: Vec<StepId>,
    /// Steps gone from it.
    pub steps_removed: Vec<StepId>,
    /// Steps in both that differ (`goal_id` when a step moved to another goal).
    pub steps_changed: Vec<ItemChange<StepId>>,
}

/// How `after` differs from `before` (for a first plan, `before` is empty). Items keep the
/// order of the revision they are found in.
pub fn diff(before: &[Goal], after: &[Goal]) -> PlanDiff {
    let goals_before: BTreeMap<GoalId, &Goal> = before.iter().map(|g| (g.id, g)).collect();
    let goals_after: HashSet<GoalId> = after.iter().map(|g| g.id).collect();
    let steps_before: BTreeMap<StepId, (GoalId, &Step)> = before
        .iter()
        .flat_map(|g| g.steps.iter().map(move |s| (s.id, (g.id, s))))
        .collect();
    let steps_after: HashSet<StepId> = after.iter().flat_map(|g| &g.steps).map(|s| s.id).collect();

    let mut diff = PlanDiff::default();
    for goal in after {
        match goals_before.get(&goal.id) {
            None => diff.goals_added.push(goal.id),
            Some(old) => {
                let mut fields = Vec::new();
                if old.category != goal.category {
                    fields.push("category");
                }
                if old.own_words != goal.own_words {
                    fields.push("own_words");
                }
                if old.target_date != goal.target_date {
                    fields.push("target_date");
                }
                if old.status != goal.status {
                    fields.push("status");
                }
                if !fields.is_empty() {
                    diff.goals_changed.push(ItemChange {
                        id: goal.id,
                        fields,
                    });
                }
            }
        }
        for step in &goal.steps {
            match steps_before.get(&step.id) {
                None => diff.steps_added.push(step.id),
                Some((old_goal, old)) => {
                    let mut fields = Vec::new();
                    if *old_goal != goal.id {
                        fields.push("goal_id");
                    }
                    if old.action != step.action {
                        fields.push("action");
                    }
                    if old.owner != step.owner {
                        fields.push("owner");
                    }
                    if old.due_date != step.due_date {
                        fields.push("due_date");
                    }
                    if old.status != step.status {
                        fields.push("status");
                    }
                    if !fields.is_empty() {
                        diff.steps_changed.push(ItemChange {
                            id: step.id,
                            fields,
                        });
                    }
                }
            }
        }
    }
    diff.goals_removed = before
        .iter()
        .map(|g| g.id)
        .filter(|id| !goals_after.contains(id))
        .collect();
    diff.steps_removed = before
        .iter()
        .flat_map(|g| &g.steps)
        .map(|s| s.id)
        .filter(|id| !steps_after.contains(id))
        .collect();
    diff
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
    /// The `ErrorInfo.reason` for this violation (documented in the proto).
    pub fn reason(self) -> &'static str {
        match self {
            StateError::CaseClosed => "CASE_CLOSED",
            StateError::FirstPlanCause => "FIRST_PLAN_CAUSE",
            StateError::CaseOpen => "CASE_OPEN",
            StateError::FollowUpRecorded => "FOLLOW_UP_RECORDED",
            StateError::LegalBasisRequired => "LEGAL_BASIS_REQUIRED",
            StateError::PlanRequired => "PLAN_REQUIRED",
            StateError::AgreementInProgress => "AGREEMENT_IN_PROGRESS",
            StateError::AgreementNotDraft => "AGREEMENT_NOT_DRAFT",
            StateError::AgreementClosedToComments => "AGREEMENT_CLOSED_TO_COMMENTS",
            StateError::AgreementNotProposed => "AGREEMENT_NOT_PROPOSED",
            StateError::AgreementNotDisputable => "AGREEMENT_NOT_DISPUTABLE",
            StateError::AgreementNotDisputed => "AGREEMENT_NOT_DISPUTED",
            StateError::SignaturesRequired => "SIGNATURES_REQUIRED",
            StateError::ClientAssentRequired => "CLIENT_ASSENT_REQUIRED",
            StateError::RevisionNotApproved => "REVISION_NOT_APPROVED",
            StateError::RevisionAlreadyApproved => "REVISION_ALREADY_APPROVED",
            StateError::AdvisorNotAvailable => "ADVISOR_NOT_AVAILABLE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn step(n: u128, action: &str, due: Option<NaiveDate>, status: StepStatus) -> Step {
        Step {
            id: StepId(Uuid::from_u128(n)),
            action: action.into(),
            owner: StepOwner::Client,
            due_date: due,
            status,
        }
    }

    fn goal(n: u128, words: &str, steps: Vec<Step>) -> Goal {
        Goal {
            id: GoalId(Uuid::from_u128(n)),
            category: GoalCategory::Work,
            own_words: words.into(),
            target_date: None,
            status: GoalStatus::Open,
            steps,
        }
    }

    fn day(d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 12, d)
    }

    #[test]
    fn a_diff_names_added_removed_changed_and_moved_items_by_identity() {
        let before = vec![
            goal(
                1,
                "Arbeit finden",
                vec![step(10, "Lebenslauf", day(5), StepStatus::Planned)],
            ),
            goal(
                2,
                "Kita-Platz",
                vec![step(20, "Anmeldung", day(3), StepStatus::Planned)],
            ),
        ];
        let after = vec![
            goal(
                1,
                "Arbeit in Teilzeit finden",
                vec![
                    step(10, "Lebenslauf", day(5), StepStatus::Done),
                    step(20, "Anmeldung", day(3), StepStatus::Planned),
                ],
            ),
            goal(
                3,
                "Deutschkurs",
                vec![step(30, "Kurs wählen", None, StepStatus::Planned)],
            ),
        ];
        let diff = diff(&before, &after);
        let id = |n| GoalId(Uuid::from_u128(n));
        let sid = |n| StepId(Uuid::from_u128(n));
        assert_eq!(diff.goals_added, vec![id(3)]);
        assert_eq!(diff.goals_removed, vec![id(2)]);
        assert_eq!(
            diff.goals_changed,
            vec![ItemChange {
                id: id(1),
                fields: vec!["own_words"]
            }]
        );
        assert_eq!(diff.steps_added, vec![sid(30)]);
        assert!(diff.steps_removed.is_empty());
        assert_eq!(
            diff.steps_changed,
            vec![
                ItemChange {
                    id: sid(10),
                    fields: vec!["status"]
                },
                ItemChange {
                    id: sid(20),
                    fields: vec!["goal_id"]
                },
            ]
        );
    }

    #[test]
    fn the_next_due_date_is_the_earliest_planned_step() {
        let goals = vec![goal(
            1,
            "x",
            vec![
                step(1, "done early", day(1), StepStatus::Done),
                step(2, "later", day(9), StepStatus::Planned),
                step(3, "sooner", day(4), StepStatus::Planned),
                step(4, "undated", None, StepStatus::Planned),
            ],
        )];
        assert_eq!(next_due_date(&goals), day(4));
        assert_eq!(next_due_date(&[]), None);
    }

    #[test]
    fn only_the_first_revision_is_the_first_plan() {
        assert!(RevisionCause::FirstPlan.fits(1).is_ok());
        assert_eq!(
            RevisionCause::Review.fits(1),
            Err(StateError::FirstPlanCause)
        );
        assert_eq!(
            RevisionCause::FirstPlan.fits(2),
            Err(StateError::FirstPlanCause)
        );
        assert!(RevisionCause::ClientRequest.fits(3).is_ok());
    }

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
