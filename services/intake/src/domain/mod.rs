//! intake's rules, free of I/O and of the wire: identities, the visit's way through the day,
//! what an access check and a complete consultation must hold, and who becomes responsible.
//! The values here are what the database stores (CHECK constraints allow exactly them).

use chrono::{DateTime, Utc};
use fallwerk_platform::{clock::same_office_day, id_type, stored_enum};
use fallwerk_proto::intake::ErrorReason;

pub use fallwerk_platform::vocabulary::{ActivationTrack, Barrier, CapacityBasis, CapacityToWork};
pub use person::*;

mod person;

id_type!(
    /// An applicant (person master data).
    ApplicantId,
    /// A visit (Vorsprache).
    VisitId,
    /// A first consultation (Erstberatung).
    ConsultationId,
    /// An activation team.
    TeamId,
    /// An advisor in the roster.
    AdvisorId,
    /// A case, from its opening on.
    CaseId,
);

/// Whether a consultation started on the office day the person arrived: the office's
/// same-day promise.
pub fn is_same_day(arrived: DateTime<Utc>, consultation_start: DateTime<Utc>) -> bool {
    same_office_day(arrived, consultation_start)
}

/// The key names are matched on for duplicates and search: case, spacing, hyphens and the
/// German spellings of umlauts do not matter (Müller = Mueller = MUELLER, Meyer-Lüdenscheid =
/// meyer lüdenscheid).
pub fn name_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => key.push_str("ae"),
            'ö' => key.push_str("oe"),
            'ü' => key.push_str("ue"),
            'ß' => key.push_str("ss"),
            '-' | '\'' | '.' => key.push(' '),
            c if c.is_whitespace() => key.push(' '),
            c => key.push(c),
        }
    }
    key.split_whitespace().collect::<Vec<_>>().join(" ")
}

stored_enum!(
    /// Where a visit stands.
    VisitState {
        /// Arrived, access check pending.
        Waiting = "WAITING",
        /// Access check said continue: waiting for the first consultation.
        ReadyForConsultation = "READY_FOR_CONSULTATION",
        /// Consultation under way.
        InConsultation = "IN_CONSULTATION",
        /// Consultation complete.
        Consulted = "CONSULTED",
        /// Sent to a priority provider, or no need.
        Closed = "CLOSED",
    }
);

impl VisitState {
    /// The state after the access check decided: only `continue` leads to a consultation.
    pub fn after_access_check(self, decision: AccessDecision) -> Result<Self, StateError> {
        match self {
            VisitState::Waiting => Ok(match decision {
                AccessDecision::Continue => VisitState::ReadyForConsultation,
                AccessDecision::PriorityProvider
                | AccessDecision::NoNeed
                | AccessDecision::NotLocallyResponsible => VisitState::Closed,
            }),
            // Closed by its own check or ended without one: either way it is over.
            VisitState::Closed => Err(StateError::VisitClosed),
            _ => Err(StateError::AccessCheckDone),
        }
    }

    /// The state when a consultation starts.
    pub fn start_consultation(self) -> Result<Self, StateError> {
        match self {
            VisitState::ReadyForConsultation => Ok(VisitState::InConsultation),
            VisitState::Waiting => Err(StateError::AccessCheckMissing),
            VisitState::Closed => Err(StateError::VisitClosed),
            VisitState::InConsultation | VisitState::Consulted => {
                Err(StateError::ConsultationExists)
            }
        }
    }
}

impl VisitState {
    /// A visit ends without a consultation only while it waits.
    pub fn end(self) -> Result<Self, StateError> {
        match self {
            VisitState::Waiting | VisitState::ReadyForConsultation => Ok(VisitState::Closed),
            _ => Err(StateError::VisitNotWaiting),
        }
    }
}

stored_enum!(
    /// How a person came to the office.
    VisitKind {
        /// Without an appointment.
        WalkIn = "walk_in",
        /// To an appointment.
        Appointment = "appointment",
        /// Back to follow up an earlier visit.
        FollowUp = "follow_up",
    }
);

stored_enum!(
    /// Why a visit ended without a consultation.
    VisitEndReason {
        /// Left before being seen.
        Left = "left",
        /// Still waiting when the office day ended (the system's reason).
        LeftUnseen = "left_unseen",
        /// Sent to a priority provider.
        PriorityProvider = "priority_provider",
        /// No need.
        NoNeed = "no_need",
        /// An appointment for another day.
        AppointmentLater = "appointment_later",
        /// Another office is locally responsible.
        NotLocallyResponsible = "not_locally_responsible",
    }
);

impl VisitEndReason {
    /// The ending an access check's closing decision means.
    pub fn of_decision(decision: AccessDecision) -> Option<Self> {
        match decision {
            AccessDecision::Continue => None,
            AccessDecision::PriorityProvider => Some(VisitEndReason::PriorityProvider),
            AccessDecision::NoNeed => Some(VisitEndReason::NoNeed),
            AccessDecision::NotLocallyResponsible => Some(VisitEndReason::NotLocallyResponsible),
        }
    }
}

stored_enum!(
    /// Where a first consultation stands.
    ConsultationState {
        /// Started, outcome not recorded yet.
        InProgress = "IN_PROGRESS",
        /// Outcome recorded; a case may be opened from it.
        Completed = "COMPLETED",
    }
);

impl ConsultationState {
    /// The state when the outcome is recorded: once only.
    pub fn complete(self) -> Result<Self, StateError> {
        match self {
            ConsultationState::InProgress => Ok(ConsultationState::Completed),
            ConsultationState::Completed => Err(StateError::ConsultationComplete),
        }
    }

    /// A case is opened only from a completed consultation.
    pub fn may_open_case(self) -> Result<(), StateError> {
        match self {
            ConsultationState::Completed => Ok(()),
            ConsultationState::InProgress => Err(StateError::ConsultationIncomplete),
        }
    }
}

stored_enum!(
    /// The access check's decision (Zugangsprüfung).
    AccessDecision {
        /// Continue into case management.
        Continue = "continue",
        /// Send to the priority provider.
        PriorityProvider = "priority_provider",
        /// No need of assistance.
        NoNeed = "no_need",
        /// Another office is locally responsible: forwarded.
        NotLocallyResponsible = "not_locally_responsible",
    }
);

stored_enum!(
    /// A claim that takes priority over social assistance.
    PriorityClaim {
        /// Unemployment benefit (SGB III).
        UnemploymentBenefit = "unemployment_benefit",
        /// Job-Center (SGB II).
        JobCenter = "job_center",
        /// Housing benefit.
        HousingBenefit = "housing_benefit",
        /// Child benefit.
        ChildBenefit = "child_benefit",
        /// Maintenance.
        Maintenance = "maintenance",
        /// Own income.
        OwnIncome = "own_income",
        /// Own assets.
        OwnAssets = "own_assets",
        /// A pension.
        Pension = "pension",
        /// Child maintenance advance (Unterhaltsvorschuss).
        ChildMaintenanceAdvance = "child_maintenance_advance",
        /// Sickness benefit.
        SicknessBenefit = "sickness_benefit",
        /// Training allowance.
        TrainingAllowance = "training_allowance",
        /// Another claim.
        Other = "other",
    }
);

stored_enum!(
    /// What the check of one priority claim found.
    ClaimOutcome {
        /// No such claim.
        None = "none",
        /// The claim is received already.
        Received = "received",
        /// The claim exists and is to be applied for.
        ToBeApplied = "to_be_applied",
        /// Not clear yet.
        Unclear = "unclear",
    }
);

/// One priority claim as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCheck {
    /// The claim.
    pub claim: PriorityClaim,
    /// What was found.
    pub outcome: ClaimOutcome,
    /// A note.
    pub note: String,
}

/// A recorded access check.
#[derive(Debug, Clone)]
pub struct AccessCheck {
    /// The claims checked, each once.
    pub claims: Vec<ClaimCheck>,
    /// Emergency need today.
    pub emergency_need: bool,
    /// What the emergency is; required with `emergency_need`.
    pub emergency_note: String,
    /// The decision.
    pub decision: AccessDecision,
    /// Where a not locally responsible office forwarded the application; else empty.
    pub forwarded_to: String,
}

/// Why an access check is not acceptable, by the field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessCheckRule {
    /// A claim is listed twice (its index).
    ClaimTwice(usize),
    /// Emergency need without a note.
    EmergencyWithoutNote,
    /// Sent to a priority provider without a claim found.
    PriorityProviderWithoutClaim,
    /// Not locally responsible, without saying where the application went.
    ForwardedNowhere,
    /// A forwarding named with another decision.
    ForwardedWithoutDecision,
}

impl AccessCheck {
    /// Every rule the check breaks: a claim is checked once; an emergency is described; a
    /// person is sent to a priority provider only when a claim was found received or to be
    /// applied for.
    pub fn broken_rules(&self) -> Vec<AccessCheckRule> {
        let mut broken = Vec::new();
        for (i, c) in self.claims.iter().enumerate() {
            if self.claims[..i]
                .iter()
                .any(|earlier| earlier.claim == c.claim)
            {
                broken.push(AccessCheckRule::ClaimTwice(i));
            }
        }
        if self.emergency_need && self.emergency_note.is_empty() {
            broken.push(AccessCheckRule::EmergencyWithoutNote);
        }
        let claim_found = self.claims.iter().any(|c| {
            matches!(
                c.outcome,
                ClaimOutcome::Received | ClaimOutcome::ToBeApplied
            )
        });
        if self.decision == AccessDecision::PriorityProvider && !claim_found {
            broken.push(AccessCheckRule::PriorityProviderWithoutClaim);
        }
        let forwarding = self.decision == AccessDecision::NotLocallyResponsible;
        match (forwarding, self.forwarded_to.is_empty()) {
            (true, true) => broken.push(AccessCheckRule::ForwardedNowhere),
            (false, false) => broken.push(AccessCheckRule::ForwardedWithoutDecision),
            _ => {}
        }
        broken
    }

    /// An office continues with a person only where it is locally responsible, or where an
    /// emergency need has to be met by the office the person is at.
    pub fn fits(&self, responsibility: LocalResponsibility) -> Result<(), StateError> {
        let outside = responsibility == LocalResponsibility::NotResponsible;
        if self.decision == AccessDecision::Continue && outside && !self.emergency_need {
            return Err(StateError::NotLocallyResponsible);
        }
        Ok(())
    }
}

/// What a completed first consultation holds.
#[derive(Debug, Clone)]
pub struct ConsultationOutcome {
    /// First steps agreed.
    pub first_steps: Vec<String>,
    /// The person's self-help options.
    pub self_help_options: Vec<String>,
    /// The office's offers discussed.
    pub office_offers: Vec<String>,
    /// Capacity to work.
    pub capacity_to_work: CapacityToWork,
    /// What the capacity rests on; none while it is not yet determined.
    pub capacity_basis: Option<CapacityBasis>,
    /// Activation track.
    pub activation_track: ActivationTrack,
    /// Barriers, each once.
    pub barriers: Vec<Barrier>,
    /// Notes.
    pub notes: String,
}

/// Why a consultation outcome is not acceptable, by the field at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeRule {
    /// No first step.
    NoFirstStep,
    /// Job placement now without any capacity to work.
    PlacementWithoutCapacity,
    /// A barrier listed twice (its index).
    BarrierTwice(usize),
    /// A capacity to work without what it rests on.
    CapacityWithoutBasis,
}

impl ConsultationOutcome {
    /// Every rule the outcome breaks: at least one first step; job placement now needs a
    /// capacity to work, full or partial; an assessed capacity says what it rests on; each
    /// barrier once.
    pub fn broken_rules(&self) -> Vec<OutcomeRule> {
        let mut broken = Vec::new();
        if self.first_steps.is_empty() {
            broken.push(OutcomeRule::NoFirstStep);
        }
        if self.activation_track == ActivationTrack::JobPlacement
            && !matches!(
                self.capacity_to_work,
                CapacityToWork::Full | CapacityToWork::Partial
            )
        {
            broken.push(OutcomeRule::PlacementWithoutCapacity);
        }
        // The advisor must not guess: an assessment says what it rests on.
        if self.capacity_to_work != CapacityToWork::NotYetDetermined
            && self.capacity_basis.is_none()
        {
            broken.push(OutcomeRule::CapacityWithoutBasis);
        }
        for (i, b) in self.barriers.iter().enumerate() {
            if self.barriers[..i].contains(b) {
                broken.push(OutcomeRule::BarrierTwice(i));
            }
        }
        broken
    }
}

stored_enum!(
    /// An advisor's profession in the activation team.
    AdvisorFunction {
        /// Administrative staff.
        Administrative = "administrative",
        /// Social worker.
        SocialWork = "social_work",
        /// Job placement officer.
        JobPlacement = "job_placement",
    }
);

/// A step the state does not allow, with the stable reason callers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The visit has an access check already.
    #[error("the visit's access check is already recorded")]
    AccessCheckDone,
    /// No access check yet.
    #[error("the visit needs an access check that decides to continue first")]
    AccessCheckMissing,
    /// The access check closed the visit.
    #[error("the access check closed this visit")]
    VisitClosed,
    /// A consultation exists already.
    #[error("the visit's first consultation has already started")]
    ConsultationExists,
    /// The consultation is complete.
    #[error("the consultation is already complete")]
    ConsultationComplete,
    /// The consultation is not complete.
    #[error("the consultation is not complete yet")]
    ConsultationIncomplete,
    /// The visit no longer waits.
    #[error("the visit's consultation has started or the visit has ended")]
    VisitNotWaiting,
    /// Continuing with a person another office is responsible for.
    #[error(
        "the person's address lies outside every team's service area: forward the application (decision NOT_LOCALLY_RESPONSIBLE), or record the emergency need met here"
    )]
    NotLocallyResponsible,
}

impl StateError {
    /// The `ErrorInfo` reason for this violation.
    pub fn reason(self) -> ErrorReason {
        match self {
            StateError::AccessCheckDone => ErrorReason::AccessCheckAlreadyRecorded,
            StateError::AccessCheckMissing => ErrorReason::AccessCheckRequired,
            StateError::VisitClosed => ErrorReason::VisitClosed,
            StateError::ConsultationExists => ErrorReason::ConsultationAlreadyStarted,
            StateError::ConsultationComplete => ErrorReason::ConsultationAlreadyCompleted,
            StateError::ConsultationIncomplete => ErrorReason::ConsultationNotCompleted,
            StateError::VisitNotWaiting => ErrorReason::VisitNotWaiting,
            StateError::NotLocallyResponsible => ErrorReason::NotLocallyResponsible,
        }
    }
}

/// How the responsible advisor of a new case is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignment {
    /// The advisor who gave the first consultation stays responsible (continuity; the default).
    ConsultingAdvisor,
    /// The active advisor of the team with the lowest caseload who still has room.
    LowestCaseload,
}

/// An advisor's current load, as the assignment sees it.
#[derive(Debug, Clone, Copy)]
pub struct AdvisorLoad {
    /// The advisor.
    pub advisor: AdvisorId,
    /// Open cases now.
    pub open_cases: i64,
    /// Capacity.
    pub capacity: i64,
    /// Active in the roster.
    pub active: bool,
}

/// The active advisor with the fewest open cases who still has room; ties go to the lower
/// relative load, then the id, so the choice is stable.
pub fn lowest_caseload(team: &[AdvisorLoad]) -> Option<AdvisorId> {
    team.iter()
        .filter(|a| a.active && a.open_cases < a.capacity)
        .min_by(|a, b| {
            a.open_cases
                .cmp(&b.open_cases)
                .then((a.open_cases * b.capacity).cmp(&(b.open_cases * a.capacity)))
                .then(a.advisor.0.cmp(&b.advisor.0))
        })
        .map(|a| a.advisor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn names_match_across_umlaut_spellings_case_and_spacing() {
        assert_eq!(name_key("Müller"), name_key("MUELLER"));
        assert_eq!(name_key("  Meyer-Lüdenscheid "), "meyer luedenscheid");
        assert_eq!(name_key("Straße"), "strasse");
    }

    #[test]
    fn only_a_continue_decision_leads_to_a_consultation() {
        let waiting = VisitState::Waiting;
        assert_eq!(
            waiting.after_access_check(AccessDecision::Continue),
            Ok(VisitState::ReadyForConsultation)
        );
        assert_eq!(
            waiting.after_access_check(AccessDecision::NoNeed),
            Ok(VisitState::Closed)
        );
        assert_eq!(
            VisitState::Closed.start_consultation(),
            Err(StateError::VisitClosed)
        );
        assert_eq!(
            waiting.start_consultation(),
            Err(StateError::AccessCheckMissing)
        );
        assert_eq!(
            VisitState::ReadyForConsultation.after_access_check(AccessDecision::Continue),
            Err(StateError::AccessCheckDone)
        );
        assert_eq!(
            VisitState::Closed.after_access_check(AccessDecision::Continue),
            Err(StateError::VisitClosed)
        );
    }

    #[test]
    fn a_consultation_completes_once_and_only_a_complete_one_opens_a_case() {
        let started = ConsultationState::InProgress;
        assert_eq!(
            started.may_open_case(),
            Err(StateError::ConsultationIncomplete)
        );
        let done = started.complete().expect("completes");
        assert_eq!(done.may_open_case(), Ok(()));
        assert_eq!(done.complete(), Err(StateError::ConsultationComplete));
    }

    #[test]
    fn a_stored_value_this_build_does_not_know_is_an_error_not_a_default() {
        assert_eq!("consulted".parse::<VisitState>().ok(), None);
        assert_eq!("CONSULTED".parse(), Ok(VisitState::Consulted));
        assert!(
            "ACCESS_DECISION_CONTINUE"
                .parse::<AccessDecision>()
                .is_err()
        );
        for barrier in Barrier::ALL {
            assert_eq!(barrier.as_str().parse(), Ok(*barrier));
        }
    }

    fn check(decision: AccessDecision, outcomes: &[ClaimOutcome]) -> AccessCheck {
        AccessCheck {
            claims: outcomes
                .iter()
                .zip(PriorityClaim::ALL)
                .map(|(outcome, claim)| ClaimCheck {
                    claim: *claim,
                    outcome: *outcome,
                    note: String::new(),
                })
                .collect(),
            emergency_need: false,
            emergency_note: String::new(),
            decision,
            forwarded_to: String::new(),
        }
    }

    #[test]
    fn a_forwarding_names_where_and_goes_with_its_decision() {
        let mut forward = check(AccessDecision::NotLocallyResponsible, &[]);
        assert_eq!(forward.broken_rules(), [AccessCheckRule::ForwardedNowhere]);
        forward.forwarded_to = "Sozialamt Bezirk Mitte".into();
        assert!(forward.broken_rules().is_empty());
        let mut cont = check(AccessDecision::Continue, &[]);
        cont.forwarded_to = "Sozialamt Bezirk Mitte".into();
        assert_eq!(
            cont.broken_rules(),
            [AccessCheckRule::ForwardedWithoutDecision]
        );
    }

    #[test]
    fn only_an_emergency_is_met_outside_the_service_area() {
        let outside = LocalResponsibility::NotResponsible;
        let mut cont = check(AccessDecision::Continue, &[]);
        assert_eq!(cont.fits(outside), Err(StateError::NotLocallyResponsible));
        assert_eq!(cont.fits(LocalResponsibility::Undecided), Ok(()));
        cont.emergency_need = true;
        assert_eq!(cont.fits(outside), Ok(()));
        let forward = check(AccessDecision::NotLocallyResponsible, &[]);
        assert_eq!(forward.fits(outside), Ok(()));
    }

    #[test]
    fn local_responsibility_follows_the_residence() {
        use LocalResponsibility::*;
        let team = Some(TeamId(uuid::Uuid::nil()));
        assert_eq!(
            LocalResponsibility::of(Residence::Address, team, true),
            Responsible
        );
        assert_eq!(
            LocalResponsibility::of(Residence::Address, None, true),
            NotResponsible
        );
        assert_eq!(
            LocalResponsibility::of(Residence::Address, None, false),
            Undecided
        );
        assert_eq!(
            LocalResponsibility::of(Residence::NoFixedAbode, None, true),
            Responsible
        );
        assert_eq!(
            LocalResponsibility::of(Residence::Unknown, None, true),
            Undecided
        );
    }

    #[test]
    fn a_priority_provider_needs_a_claim_received_or_to_be_applied_for() {
        use ClaimOutcome::*;
        let rule = AccessCheckRule::PriorityProviderWithoutClaim;
        let send = AccessDecision::PriorityProvider;
        assert!(check(send, &[None, Unclear]).broken_rules().contains(&rule));
        assert!(check(send, &[None, ToBeApplied]).broken_rules().is_empty());
        assert!(check(send, &[Received]).broken_rules().is_empty());
        assert!(
            check(AccessDecision::Continue, &[None])
                .broken_rules()
                .is_empty()
        );
    }

    #[test]
    fn an_emergency_must_be_described_and_a_claim_checked_once() {
        let mut c = check(AccessDecision::Continue, &[ClaimOutcome::None]);
        c.emergency_need = true;
        c.claims.push(c.claims[0].clone());
        assert_eq!(
            c.broken_rules(),
            vec![
                AccessCheckRule::ClaimTwice(1),
                AccessCheckRule::EmergencyWithoutNote
            ]
        );
    }

    #[test]
    fn job_placement_now_needs_some_capacity_to_work() {
        let outcome = |capacity| ConsultationOutcome {
            first_steps: vec!["Kita-Platz".into()],
            self_help_options: vec![],
            office_offers: vec![],
            capacity_to_work: capacity,
            capacity_basis: Some(CapacityBasis::MedicalService),
            activation_track: ActivationTrack::JobPlacement,
            barriers: vec![Barrier::Debt],
            notes: String::new(),
        };
        assert_eq!(
            outcome(CapacityToWork::None).broken_rules(),
            vec![OutcomeRule::PlacementWithoutCapacity]
        );
        assert_eq!(
            outcome(CapacityToWork::NotYetDetermined).broken_rules(),
            vec![OutcomeRule::PlacementWithoutCapacity],
            "placement needs a capacity that is known"
        );
        assert!(outcome(CapacityToWork::Partial).broken_rules().is_empty());
    }

    #[test]
    fn an_assessed_capacity_says_what_it_rests_on_and_an_open_one_need_not() {
        let outcome = |capacity, basis| ConsultationOutcome {
            first_steps: vec!["Gutachten anfordern".into()],
            self_help_options: vec![],
            office_offers: vec![],
            capacity_to_work: capacity,
            capacity_basis: basis,
            activation_track: ActivationTrack::WithSupport,
            barriers: vec![],
            notes: String::new(),
        };
        assert_eq!(
            outcome(CapacityToWork::Partial, None).broken_rules(),
            vec![OutcomeRule::CapacityWithoutBasis]
        );
        assert!(
            outcome(CapacityToWork::NotYetDetermined, None)
                .broken_rules()
                .is_empty()
        );
    }

    #[test]
    fn lowest_caseload_skips_inactive_and_full_advisors() {
        let id = |n: u128| AdvisorId(Uuid::from_u128(n));
        let load = |n, open_cases, capacity, active| AdvisorLoad {
            advisor: id(n),
            open_cases,
            capacity,
            active,
        };
        let team = [
            load(1, 0, 10, false),
            load(2, 5, 5, true),
            load(3, 3, 10, true),
            load(4, 2, 40, true),
        ];
        assert_eq!(lowest_caseload(&team), Some(id(4)));
        assert_eq!(lowest_caseload(&team[..2]), None);
    }

    proptest::proptest! {
        #[test]
        fn a_name_key_is_its_own_key(name in "\\PC{0,30}") {
            let key = name_key(&name);
            proptest::prop_assert_eq!(name_key(&key), key);
        }
    }
}
