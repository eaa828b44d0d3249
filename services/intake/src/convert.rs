//! Between the wire and intake: parsing request fields into values (each complaint naming
//! its field) and turning stored rows into response messages.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fallwerk_platform::Violations;
use fallwerk_proto::{google::r#type::Date, intake as pb};
use prost_types::Timestamp;
use uuid::Uuid;

use crate::store::{
    AccessCheckRow, AdvisorRow, ApplicantRow, ClaimRow, ConsultationRow, TeamRow, VisitRow,
};

/// Default and largest page sizes (AIP-158).
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Larger requests are served this many.
pub const MAX_PAGE_SIZE: i64 = 200;

/// A required UUID.
pub fn id(value: &str) -> Result<Uuid, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    Uuid::parse_str(value).map_err(|_| "must be a UUID".into())
}

/// An optional UUID (empty is `None`).
pub fn optional_id(value: &str) -> Result<Option<Uuid>, String> {
    if value.is_empty() {
        Ok(None)
    } else {
        id(value).map(Some)
    }
}

/// Required text, trimmed, at most `max` characters.
pub fn required_text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    optional_text(trimmed, max)
}

/// Optional text, trimmed, at most `max` characters, without control characters.
pub fn optional_text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// A list of texts, each checked like [`optional_text`] and non-empty; at most `max_items`.
pub fn text_list(
    violations: &mut Violations,
    field: &str,
    values: &[String],
    max_items: usize,
    max_len: usize,
) -> Vec<String> {
    if values.len() > max_items {
        violations.add(field, format!("must have at most {max_items} entries"));
    }
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| violations.check(&format!("{field}[{i}]"), required_text(v, max_len)))
        .collect()
}

/// A required calendar date.
pub fn date(value: Option<&Date>) -> Result<NaiveDate, String> {
    let d = value.ok_or("is required")?;
    let (Ok(month), Ok(day)) = (u32::try_from(d.month), u32::try_from(d.day)) else {
        return Err("is not a valid calendar date".into());
    };
    NaiveDate::from_ymd_opt(d.year, month, day).ok_or_else(|| "is not a valid calendar date".into())
}

/// A date of birth: a real date, not in the future, not before 1900.
pub fn birth_date(value: Option<&Date>, today: NaiveDate) -> Result<NaiveDate, String> {
    let d = date(value)?;
    if d > today {
        return Err("must not be in the future".into());
    }
    if d.year() < 1900 {
        return Err("must not be before 1900".into());
    }
    Ok(d)
}

/// An interpreter language: empty, or a BCP 47 tag like `ar` or `uk`.
pub fn language_tag(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let mut parts = value.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if primary_ok && rest_ok {
        Ok(value.to_owned())
    } else {
        Err("must be a BCP 47 language tag such as `ar` or `uk`".into())
    }
}

/// A required protobuf enum value (not `*_UNSPECIFIED`, not unknown).
pub fn enum_value<E: TryFrom<i32> + Default + PartialEq>(value: i32) -> Result<E, String> {
    match E::try_from(value) {
        Ok(e) if e != E::default() => Ok(e),
        _ => Err("is required and must be one of the enum's values".into()),
    }
}

/// The page size asked for: 0 means the default, larger than the maximum means the maximum.
pub fn page_size(value: i32) -> Result<i64, String> {
    match value {
        v if v < 0 => Err("must not be negative".into()),
        0 => Ok(DEFAULT_PAGE_SIZE),
        v => Ok(i64::from(v).min(MAX_PAGE_SIZE)),
    }
}

/// An etag as issued by this service.
pub fn etag(value: &str) -> Result<i32, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    value
        .parse()
        .map_err(|_| "is not an etag issued by this service".into())
}

/// Checks that `paths` only name `allowed` fields and at least one.
pub fn update_mask(
    violations: &mut Violations,
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&str],
) -> Vec<String> {
    let paths = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        violations.add(
            "update_mask",
            format!("must name at least one of: {}", allowed.join(", ")),
        );
    }
    for path in &paths {
        if !allowed.contains(&path.as_str()) {
            violations.add(
                "update_mask.paths",
                format!(
                    "`{path}` cannot be updated; allowed: {}",
                    allowed.join(", ")
                ),
            );
        }
    }
    paths
}

/// A required sub-message.
pub fn required<'a, T>(
    violations: &mut Violations,
    field: &str,
    value: Option<&'a T>,
) -> Option<&'a T> {
    if value.is_none() {
        violations.add(field, "is required");
    }
    value
}

/// The wire form of an instant.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// The wire form of a date.
pub fn wire_date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// A stored protobuf enum name back to its number (0 for a name this build does not know).
pub fn stored_enum<E: Into<i32>>(name: Option<&str>, from_name: fn(&str) -> Option<E>) -> i32 {
    name.and_then(from_name).map(Into::into).unwrap_or(0)
}

impl From<ApplicantRow> for pb::Applicant {
    fn from(row: ApplicantRow) -> Self {
        pb::Applicant {
            id: row.id.to_string(),
            given_name: row.given_name,
            family_name: row.family_name,
            birth_date: Some(wire_date(row.birth_date)),
            household: Some(pb::Household {
                single_parent: row.single_parent,
                children_ages: row.children_ages.into_iter().map(|a| a as u32).collect(),
            }),
            interpreter_language: row.interpreter_language,
            etag: row.version.to_string(),
            create_time: Some(timestamp(row.created_at)),
            update_time: Some(timestamp(row.updated_at)),
        }
    }
}

/// A visit with its access check, if any.
pub fn visit(row: VisitRow, check: Option<(AccessCheckRow, Vec<ClaimRow>)>) -> pb::Visit {
    use crate::domain::VisitState;
    let state = match row.state {
        VisitState::Waiting => pb::VisitState::Waiting,
        VisitState::ReadyForConsultation => pb::VisitState::ReadyForConsultation,
        VisitState::InConsultation => pb::VisitState::InConsultation,
        VisitState::Consulted => pb::VisitState::Consulted,
        VisitState::Closed => pb::VisitState::Closed,
    };
    pb::Visit {
        id: row.id.to_string(),
        applicant_id: row.applicant_id.to_string(),
        team_id: row.team_id.to_string(),
        arrive_time: Some(timestamp(row.arrived_at)),
        concern: row.concern,
        state: state.into(),
        access_check: check.map(|(c, claims)| access_check(c, claims)),
        consultation_id: row
            .consultation_id
            .map(|c| c.to_string())
            .unwrap_or_default(),
    }
}

fn access_check(row: AccessCheckRow, claims: Vec<ClaimRow>) -> pb::AccessCheck {
    pb::AccessCheck {
        claims: claims
            .into_iter()
            .map(|c| pb::ClaimCheck {
                claim: stored_enum(Some(&c.claim), pb::PriorityClaim::from_str_name),
                outcome: stored_enum(Some(&c.outcome), pb::ClaimOutcome::from_str_name),
                note: c.note,
            })
            .collect(),
        emergency_need: row.emergency_need,
        emergency_note: row.emergency_note,
        decision: stored_enum(Some(&row.decision), pb::AccessDecision::from_str_name),
        checked_by: row.checked_by,
        check_time: Some(timestamp(row.checked_at)),
    }
}

impl From<ConsultationRow> for pb::Consultation {
    fn from(row: ConsultationRow) -> Self {
        let completed = row.state == "COMPLETED";
        pb::Consultation {
            id: row.id.to_string(),
            visit_id: row.visit_id.to_string(),
            applicant_id: row.applicant_id.to_string(),
            team_id: row.team_id.to_string(),
            advisor_id: row.advisor_id.to_string(),
            state: if completed {
                pb::ConsultationState::Completed
            } else {
                pb::ConsultationState::InProgress
            }
            .into(),
            start_time: Some(timestamp(row.started_at)),
            complete_time: row.completed_at.map(timestamp),
            outcome: completed.then(|| pb::ConsultationOutcome {
                first_steps: row.first_steps,
                self_help_options: row.self_help_options,
                office_offers: row.office_offers,
                capacity_to_work: stored_enum(
                    row.capacity_to_work.as_deref(),
                    pb::CapacityToWork::from_str_name,
                ),
                activation_track: stored_enum(
                    row.activation_track.as_deref(),
                    pb::ActivationTrack::from_str_name,
                ),
                barriers: row
                    .barriers
                    .iter()
                    .map(|b| stored_enum(Some(b), pb::Barrier::from_str_name))
                    .collect(),
                notes: row.notes,
            }),
        }
    }
}

impl From<TeamRow> for pb::Team {
    fn from(row: TeamRow) -> Self {
        pb::Team {
            id: row.id.to_string(),
            display_name: row.display_name,
            create_time: Some(timestamp(row.created_at)),
        }
    }
}

impl From<AdvisorRow> for pb::Advisor {
    fn from(row: AdvisorRow) -> Self {
        pb::Advisor {
            id: row.id.to_string(),
            team_id: row.team_id.to_string(),
            subject: row.subject,
            display_name: row.display_name,
            function: stored_enum(Some(&row.function), pb::AdvisorFunction::from_str_name),
            capacity: row.capacity,
            active: row.active,
            open_cases: i32::try_from(row.open_cases).unwrap_or(i32::MAX),
            etag: row.version.to_string(),
        }
    }
}
