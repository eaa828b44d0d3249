//! The help plan's rules: goals and steps kept by identity across revisions, what a revision
//! changed, what is due first, and why a revision was made.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use fallwerk_platform::stored_enum;

use super::{GoalId, StateError, StepId};

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
}
