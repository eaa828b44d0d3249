//! The case-plan service's values as a person types them: choices, `--goal` progress, and the
//! help plan file of `plan revise`.

use clap::ValueEnum;
use fallwerk_proto::{caseplan as pb, types};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{choice, date};
use fallwerk_platform::wire::wire_date;

/// The law a case's assistance rests on (`case set-basis --basis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Basis {
    /// SGB II, Bürgergeld: the agreement is a cooperation plan.
    #[value(name = "sgb-ii")]
    SgbIi,
    /// SGB XII chapter 3, Hilfe zum Lebensunterhalt: a written agreement with the client's
    /// assent.
    #[value(name = "sgb-xii", alias = "sgb-xii-chapter-3")]
    SgbXii,
    /// Another basis: a signed agreement.
    Other,
}

impl From<Basis> for types::LegalBasis {
    fn from(value: Basis) -> Self {
        match value {
            Basis::SgbIi => types::LegalBasis::SgbIi,
            Basis::SgbXii => types::LegalBasis::SgbXiiChapter3,
            Basis::Other => types::LegalBasis::Other,
        }
    }
}

/// Which cases `case list --state` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CaseState {
    /// Open cases.
    Open,
    /// Closed cases.
    Closed,
}

impl From<CaseState> for pb::CaseState {
    fn from(value: CaseState) -> Self {
        match value {
            CaseState::Open => pb::CaseState::Open,
            CaseState::Closed => pb::CaseState::Closed,
        }
    }
}

/// Why the plan is revised (`plan revise --cause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Cause {
    /// The case's first plan.
    FirstPlan,
    /// A review of the plan.
    Review,
    /// The client asked for a change.
    ClientRequest,
    /// A dispute about the agreement was resolved.
    DisputeResolution,
}

impl From<Cause> for pb::RevisionCause {
    fn from(value: Cause) -> Self {
        match value {
            Cause::FirstPlan => pb::RevisionCause::FirstPlan,
            Cause::Review => pb::RevisionCause::Review,
            Cause::ClientRequest => pb::RevisionCause::ClientRequest,
            Cause::DisputeResolution => pb::RevisionCause::DisputeResolution,
        }
    }
}

/// How the client agreed (`agreement accept --channel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Channel {
    /// In person at the office.
    InPerson,
    /// By letter.
    Letter,
    /// By e-mail (text form).
    Email,
    /// Through the office's online portal (text form).
    Portal,
}

impl From<Channel> for pb::AcknowledgementChannel {
    fn from(value: Channel) -> Self {
        match value {
            Channel::InPerson => pb::AcknowledgementChannel::InPerson,
            Channel::Letter => pb::AcknowledgementChannel::Letter,
            Channel::Email => pb::AcknowledgementChannel::Email,
            Channel::Portal => pb::AcknowledgementChannel::Portal,
        }
    }
}

/// Whose comment on an agreement (`agreement comment --by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Author {
    /// The client, recorded by the advisor.
    Client,
    /// The office.
    Office,
}

impl From<Author> for pb::CommentAuthor {
    fn from(value: Author) -> Self {
        match value {
            Author::Client => pb::CommentAuthor::Client,
            Author::Office => pb::CommentAuthor::Office,
        }
    }
}

/// How a dispute ends (`agreement resolve --outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DisputeOutcome {
    /// The agreement goes on as it was.
    Keep,
    /// The agreement ends; a new plan revision and agreement follow.
    End,
}

impl From<DisputeOutcome> for pb::DisputeOutcome {
    fn from(value: DisputeOutcome) -> Self {
        match value {
            DisputeOutcome::Keep => pb::DisputeOutcome::Keep,
            DisputeOutcome::End => pb::DisputeOutcome::End,
        }
    }
}

/// How a case ended (`close --outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CaseOutcome {
    /// The client took up work.
    WorkTakenUp,
    /// The client started vocational training or a qualification.
    TrainingStarted,
    /// The client lives independent of assistance for another reason.
    #[value(name = "independent", alias = "independent-of-assistance")]
    Independent,
    /// Another authority is responsible now.
    Transferred,
    /// The client moved out of the office's area.
    MovedAway,
    /// The client no longer cooperates.
    NoLongerCooperating,
    /// The client died.
    Deceased,
    /// Another reason, given in --note.
    Other,
}

impl From<CaseOutcome> for pb::CaseOutcome {
    fn from(value: CaseOutcome) -> Self {
        match value {
            CaseOutcome::WorkTakenUp => pb::CaseOutcome::WorkTakenUp,
            CaseOutcome::TrainingStarted => pb::CaseOutcome::TrainingStarted,
            CaseOutcome::Independent => pb::CaseOutcome::IndependentOfAssistance,
            CaseOutcome::Transferred => pb::CaseOutcome::Transferred,
            CaseOutcome::MovedAway => pb::CaseOutcome::MovedAway,
            CaseOutcome::NoLongerCooperating => pb::CaseOutcome::NoLongerCooperating,
            CaseOutcome::Deceased => pb::CaseOutcome::Deceased,
            CaseOutcome::Other => pb::CaseOutcome::Other,
        }
    }
}

/// Whether the effect of a closed case lasted (`follow-up --result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FollowUpResult {
    /// The client still lives independent of assistance.
    Lasting,
    /// The effect did not last.
    NotLasting,
    /// The client could not be reached.
    Unreachable,
}

impl From<FollowUpResult> for pb::FollowUpResult {
    fn from(value: FollowUpResult) -> Self {
        match value {
            FollowUpResult::Lasting => pb::FollowUpResult::Lasting,
            FollowUpResult::NotLasting => pb::FollowUpResult::NotLasting,
            FollowUpResult::Unreachable => pb::FollowUpResult::Unreachable,
        }
    }
}

/// How far a goal got by a review (the right side of `review record --goal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// No progress.
    None,
    /// Some progress.
    Some,
    /// Reached.
    Reached,
}

impl From<Progress> for pb::GoalProgress {
    fn from(value: Progress) -> Self {
        match value {
            Progress::None => pb::GoalProgress::None,
            Progress::Some => pb::GoalProgress::Some,
            Progress::Reached => pb::GoalProgress::Reached,
        }
    }
}

/// Parses `--goal <goal-id>=<progress>[:<note>]`, e.g. `3f…=some:Kita-Platz in Aussicht`.
pub fn goal_review(text: &str) -> Result<pb::GoalReview, String> {
    let (goal, rest) = text.split_once('=').ok_or_else(|| {
        format!("`{text}` needs the form <goal-id>=<progress>[:<note>], e.g. <id>=some")
    })?;
    let goal: Uuid = goal
        .trim()
        .parse()
        .map_err(|_| format!("`{goal}` is not a goal id; `fallwerk plan show` lists them"))?;
    let (progress, note) = rest.split_once(':').unwrap_or((rest, ""));
    let progress: Progress = choice("progress", progress.trim())?;
    Ok(pb::GoalReview {
        goal_id: goal.to_string(),
        progress: pb::GoalProgress::from(progress).into(),
        note: note.trim().to_owned(),
    })
}

/// The area of life of a goal in a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Category {
    /// Taking up work.
    Work,
    /// Arranging childcare.
    Childcare,
    /// Health.
    Health,
    /// Debt.
    Debt,
    /// Housing.
    Housing,
    /// Language.
    Language,
    /// Qualification and training.
    Qualification,
    /// A stable everyday life and social ties.
    SocialStability,
    /// Anything else.
    Other,
}

impl From<Category> for pb::GoalCategory {
    fn from(value: Category) -> Self {
        match value {
            Category::Work => pb::GoalCategory::Work,
            Category::Childcare => pb::GoalCategory::Childcare,
            Category::Health => pb::GoalCategory::Health,
            Category::Debt => pb::GoalCategory::Debt,
            Category::Housing => pb::GoalCategory::Housing,
            Category::Language => pb::GoalCategory::Language,
            Category::Qualification => pb::GoalCategory::Qualification,
            Category::SocialStability => pb::GoalCategory::SocialStability,
            Category::Other => pb::GoalCategory::Other,
        }
    }
}

/// Where a goal stands, in a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GoalStatus {
    /// Being worked on.
    Open,
    /// Reached.
    Achieved,
    /// Given up or replaced.
    Dropped,
}

impl From<GoalStatus> for pb::GoalStatus {
    fn from(value: GoalStatus) -> Self {
        match value {
            GoalStatus::Open => pb::GoalStatus::Open,
            GoalStatus::Achieved => pb::GoalStatus::Achieved,
            GoalStatus::Dropped => pb::GoalStatus::Dropped,
        }
    }
}

/// Who does a step, in a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Owner {
    /// The client.
    Client,
    /// The office.
    Office,
    /// A cooperation partner.
    Partner,
}

impl From<Owner> for pb::StepOwner {
    fn from(value: Owner) -> Self {
        match value {
            Owner::Client => pb::StepOwner::Client,
            Owner::Office => pb::StepOwner::Office,
            Owner::Partner => pb::StepOwner::Partner,
        }
    }
}

/// Where a step stands, in a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StepStatus {
    /// Not done yet.
    Planned,
    /// Done.
    Done,
    /// Not needed any more.
    Cancelled,
}

impl From<StepStatus> for pb::StepStatus {
    fn from(value: StepStatus) -> Self {
        match value {
            StepStatus::Planned => pb::StepStatus::Planned,
            StepStatus::Done => pb::StepStatus::Done,
            StepStatus::Cancelled => pb::StepStatus::Cancelled,
        }
    }
}

/// The example plan file of `plan revise --help`, a macro so the help can `concat!` it and a
/// test can check that it parses.
macro_rules! plan_file_example {
    () => {
        r#"[
    { "category": "childcare",
      "own_words": "Lea hat ab März einen Kita-Platz",
      "target_date": "2026-03-01",
      "steps": [
        { "action": "Antrag beim Jugendamt stellen", "owner": "client",
          "due_date": "2026-01-15" } ] } ]"#
    };
}

/// What `plan revise --help` says about the file; kept next to the parser that reads it.
pub const PLAN_FILE_HELP: &str = concat!(
    "The plan file (`-` reads stdin) is JSON: the complete list of goals of the new revision.

  ",
    plan_file_example!(),
    "

Goal: category (work, childcare, health, debt, housing, language, qualification,
social-stability, other), own_words, optional target_date (YYYY-MM-DD), status (open,
achieved, dropped; new goals are open), steps. Step: action, owner (client, office, partner),
optional due_date, status (planned, done, cancelled; new steps are planned).

A goal or step that keeps its `id` from `fallwerk --json plan show` is the same one as
before; without an id it is new; one left out is removed. The `plan` object of
`fallwerk --json plan show` is accepted as it is, so the way to change a plan is:

  fallwerk --json plan show CASE_ID | jq .plan > plan.json   # edit, then
  fallwerk plan revise CASE_ID --cause review --etag <plan etag> --file plan.json"
);

/// The goals read from a plan file: one value to clap, which would take a bare `Vec` for an
/// option given many times.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFile(pub Vec<pb::Goal>);

/// Reads the goals of a plan file (see [`PLAN_FILE_HELP`]); `-` is stdin.
pub fn plan_file(path: &str) -> Result<PlanFile, String> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|error| format!("cannot read stdin: {error}"))?
    } else {
        std::fs::read_to_string(path).map_err(|error| format!("cannot read `{path}`: {error}"))?
    };
    plan_goals(&text)
        .map(PlanFile)
        .map_err(|error| format!("{path}: {error}"))
}

/// The goals of a plan file's text: a list of goals, or an object with `goals` (other keys of
/// that object, such as a shown plan's `revision`, are ignored).
pub fn plan_goals(text: &str) -> Result<Vec<pb::Goal>, String> {
    let value: Value = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let goals = match &value {
        Value::Array(goals) => goals,
        Value::Object(plan) => match plan.get("goals") {
            Some(Value::Array(goals)) => goals,
            _ => return Err("the object has no list `goals`".into()),
        },
        _ => return Err("expected a list of goals, or an object with `goals`".into()),
    };
    goals
        .iter()
        .enumerate()
        .map(|(i, goal)| self::goal(&format!("goals[{i}]"), goal))
        .collect()
}

fn goal(at: &str, value: &Value) -> Result<pb::Goal, String> {
    let fields = object(
        at,
        value,
        &[
            "id",
            "category",
            "own_words",
            "target_date",
            "status",
            "steps",
        ],
    )?;
    let steps = match fields.get("steps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(steps)) => steps
            .iter()
            .enumerate()
            .map(|(i, s)| step(&format!("{at}.steps[{i}]"), s))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("{at}.steps: expected a list")),
    };
    Ok(pb::Goal {
        id: text(at, fields, "id")?,
        category: json_choice::<Category, pb::GoalCategory>(
            at,
            fields,
            "category",
            "GOAL_CATEGORY_",
        )?,
        own_words: text(at, fields, "own_words")?,
        target_date: optional_date(at, fields, "target_date")?,
        status: json_choice::<GoalStatus, pb::GoalStatus>(at, fields, "status", "GOAL_STATUS_")?,
        steps,
    })
}

fn step(at: &str, value: &Value) -> Result<pb::Step, String> {
    // `referral_id` is output only (what `plan show --json` prints); accepted and ignored.
    let fields = object(
        at,
        value,
        &["id", "action", "owner", "due_date", "status", "referral_id"],
    )?;
    Ok(pb::Step {
        id: text(at, fields, "id")?,
        action: text(at, fields, "action")?,
        owner: json_choice::<Owner, pb::StepOwner>(at, fields, "owner", "STEP_OWNER_")?,
        due_date: optional_date(at, fields, "due_date")?,
        status: json_choice::<StepStatus, pb::StepStatus>(at, fields, "status", "STEP_STATUS_")?,
        referral_id: String::new(),
    })
}

/// An object with only the `known` keys: a misspelt key would otherwise be lost silently.
fn object<'a>(
    at: &str,
    value: &'a Value,
    known: &[&str],
) -> Result<&'a Map<String, Value>, String> {
    let Value::Object(fields) = value else {
        return Err(format!("{at}: expected an object"));
    };
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "{at}: unknown field `{unknown}`; known are {}",
            known.join(", ")
        ));
    }
    Ok(fields)
}

/// A string field; missing or `null` is empty.
fn text(at: &str, fields: &Map<String, Value>, key: &str) -> Result<String, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(format!("{at}.{key}: expected a string")),
    }
}

fn optional_date(
    at: &str,
    fields: &Map<String, Value>,
    key: &str,
) -> Result<Option<fallwerk_proto::google::r#type::Date>, String> {
    let text = text(at, fields, key)?;
    if text.is_empty() {
        return Ok(None);
    }
    date(&text)
        .map(|d| Some(wire_date(d)))
        .map_err(|error| format!("{at}.{key}: {error}"))
}

/// A choice written in kebab case (`social-stability`) or as `--json` shows it, with the
/// proto's `prefix` (`GOAL_CATEGORY_SOCIAL_STABILITY`); missing or `null` is UNSPECIFIED.
fn json_choice<T, P>(
    at: &str,
    fields: &Map<String, Value>,
    key: &str,
    prefix: &str,
) -> Result<i32, String>
where
    T: ValueEnum,
    P: From<T> + Into<i32> + Default,
{
    let text = text(at, fields, key)?;
    if text.is_empty() {
        return Ok(P::default().into());
    }
    let kebab = match text.strip_prefix(prefix) {
        Some(name) => name.to_lowercase().replace('_', "-"),
        None => text,
    };
    choice::<T>(key, &kebab)
        .map(|value| P::from(value).into())
        .map_err(|error| format!("{at}.{key}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::tests::assert_names_match;

    const GOAL: &str = "3f2c0d9e-5a4b-4c1d-8e7f-001122334455";

    #[test]
    fn every_choice_maps_to_the_proto_value_of_the_same_name() {
        assert_names_match::<CaseState, pb::CaseState>("CASE_STATE_", pb::CaseState::as_str_name);
        assert_names_match::<Cause, pb::RevisionCause>(
            "REVISION_CAUSE_",
            pb::RevisionCause::as_str_name,
        );
        assert_names_match::<Channel, pb::AcknowledgementChannel>(
            "ACKNOWLEDGEMENT_CHANNEL_",
            pb::AcknowledgementChannel::as_str_name,
        );
        assert_names_match::<Author, pb::CommentAuthor>(
            "COMMENT_AUTHOR_",
            pb::CommentAuthor::as_str_name,
        );
        assert_names_match::<DisputeOutcome, pb::DisputeOutcome>(
            "DISPUTE_OUTCOME_",
            pb::DisputeOutcome::as_str_name,
        );
        assert_names_match::<FollowUpResult, pb::FollowUpResult>(
            "FOLLOW_UP_RESULT_",
            pb::FollowUpResult::as_str_name,
        );
        assert_names_match::<Progress, pb::GoalProgress>(
            "GOAL_PROGRESS_",
            pb::GoalProgress::as_str_name,
        );
        assert_names_match::<Category, pb::GoalCategory>(
            "GOAL_CATEGORY_",
            pb::GoalCategory::as_str_name,
        );
        assert_names_match::<GoalStatus, pb::GoalStatus>(
            "GOAL_STATUS_",
            pb::GoalStatus::as_str_name,
        );
        assert_names_match::<Owner, pb::StepOwner>("STEP_OWNER_", pb::StepOwner::as_str_name);
        assert_names_match::<StepStatus, pb::StepStatus>(
            "STEP_STATUS_",
            pb::StepStatus::as_str_name,
        );
    }

    #[test]
    fn a_legal_basis_and_an_outcome_take_the_short_name_a_clerk_says_or_the_proto_name() {
        for (text, basis) in [
            ("sgb-ii", types::LegalBasis::SgbIi),
            ("sgb-xii", types::LegalBasis::SgbXiiChapter3),
            ("sgb-xii-chapter-3", types::LegalBasis::SgbXiiChapter3),
            ("other", types::LegalBasis::Other),
        ] {
            let parsed = Basis::from_str(text, true).map(types::LegalBasis::from);
            assert_eq!(parsed, Ok(basis), "{text}");
        }
        for text in ["independent", "independent-of-assistance"] {
            let parsed = CaseOutcome::from_str(text, true).map(pb::CaseOutcome::from);
            assert_eq!(
                parsed,
                Ok(pb::CaseOutcome::IndependentOfAssistance),
                "{text}"
            );
        }
        let parsed =
            CaseOutcome::from_str("no-longer-cooperating", true).map(pb::CaseOutcome::from);
        assert_eq!(parsed, Ok(pb::CaseOutcome::NoLongerCooperating));
    }

    #[test]
    fn a_goal_review_is_goal_id_equals_progress_with_an_optional_note() {
        let review = goal_review(&format!("{GOAL}=some: Kita-Platz in Aussicht"));
        assert_eq!(
            review,
            Ok(pb::GoalReview {
                goal_id: GOAL.into(),
                progress: pb::GoalProgress::Some.into(),
                note: "Kita-Platz in Aussicht".into(),
            })
        );
        let bare = goal_review(&format!("{GOAL}=reached")).map(|r| (r.progress(), r.note));
        assert_eq!(bare, Ok((pb::GoalProgress::Reached, String::new())));
    }

    #[test]
    fn a_goal_review_without_equals_an_id_or_a_known_progress_says_what_is_valid() {
        let missing = goal_review(GOAL).unwrap_err();
        assert!(missing.contains("<goal-id>=<progress>"), "{missing}");
        let id = goal_review("kita=some").unwrap_err();
        assert!(id.contains("not a goal id"), "{id}");
        let progress = goal_review(&format!("{GOAL}=half")).unwrap_err();
        assert!(
            progress.contains("unknown progress `half`") && progress.contains("reached"),
            "{progress}"
        );
    }

    #[test]
    fn the_example_plan_file_of_the_help_reads_as_one_new_goal_with_one_step() {
        let goals = plan_goals(plan_file_example!()).unwrap_or_default();
        assert_eq!(goals.len(), 1);
        let goal = &goals[0];
        assert_eq!(goal.id, "");
        assert_eq!(goal.category(), pb::GoalCategory::Childcare);
        assert_eq!(goal.status(), pb::GoalStatus::Unspecified);
        assert_eq!(
            goal.target_date.map(|d| (d.year, d.month, d.day)),
            Some((2026, 3, 1))
        );
        assert_eq!(goal.steps.len(), 1);
        assert_eq!(goal.steps[0].owner(), pb::StepOwner::Client);
        assert_eq!(goal.steps[0].action, "Antrag beim Jugendamt stellen");
    }

    #[test]
    fn a_plan_file_may_be_a_shown_plan_with_proto_names_ids_and_nulls() {
        let shown = format!(
            r#"{{"revision": 2, "etag": "5", "goals": [{{"id": "{GOAL}",
                "category": "GOAL_CATEGORY_SOCIAL_STABILITY", "own_words": "Tagesablauf",
                "target_date": null, "status": "GOAL_STATUS_ACHIEVED", "steps": []}}]}}"#
        );
        let goals = plan_goals(&shown).unwrap_or_default();
        assert_eq!(goals.len(), 1);
        assert_eq!(goals[0].id, GOAL);
        assert_eq!(goals[0].category(), pb::GoalCategory::SocialStability);
        assert_eq!(goals[0].status(), pb::GoalStatus::Achieved);
        assert_eq!(goals[0].target_date, None);
    }

    #[test]
    fn a_mistake_in_a_plan_file_names_where_it_is() {
        for (text, expected) in [
            ("{", "not JSON"),
            (r#"{"goal": []}"#, "no list `goals`"),
            (
                r#"[{"categroy": "work"}]"#,
                "goals[0]: unknown field `categroy`",
            ),
            (
                r#"[{"category": "job"}]"#,
                "goals[0].category: unknown category `job`",
            ),
            (
                r#"[{"category": "work", "steps": [{"action": "x", "owner": "me"}]}]"#,
                "goals[0].steps[0].owner: unknown owner `me`; one of client, office, partner",
            ),
            (
                r#"[{"category": "work", "target_date": "1.3.2026"}]"#,
                "goals[0].target_date: `1.3.2026` is not a date",
            ),
            (
                r#"[{"own_words": 7}]"#,
                "goals[0].own_words: expected a string",
            ),
        ] {
            let error = plan_goals(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
