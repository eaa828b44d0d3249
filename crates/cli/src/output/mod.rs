//! How answers are shown: short aligned lines for a person at the front desk, or, with
//! `--json`, one JSON document on stdout for a script.
//!
//! The JSON of an answer is its response message with the proto field names; enums carry
//! their proto names (`VISIT_STATE_WAITING`), timestamps RFC 3339 in UTC, dates `YYYY-MM-DD`.
//! Every field is present, unset messages as `null`, so scripts need not guess.

pub mod human;
pub mod json;

use std::io::{self, Write};

use fallwerk_platform::wire::datetime;
use serde_json::Value;

use crate::error::CliError;

/// Who reads the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A person: aligned lines.
    Human,
    /// A script: one JSON document.
    Json,
}

/// Writes answers to stdout in the chosen format.
#[derive(Debug)]
pub struct Output {
    format: Format,
}

impl Output {
    /// Output in `format`.
    pub fn new(format: Format) -> Self {
        Output { format }
    }

    /// Shows one answer. Only the renderer of the chosen format runs.
    pub fn show(
        &self,
        json: impl FnOnce() -> Value,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        let text = match self.format {
            Format::Json => format!("{:#}\n", json()),
            Format::Human => human(),
        };
        match io::stdout().lock().write_all(text.as_bytes()) {
            // The reader has gone (`fallwerk queue | head`): nothing left to tell it.
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(CliError::Output),
        }
    }
}

/// Now, as a protobuf timestamp.
fn now() -> prost_types::Timestamp {
    fallwerk_platform::wire::timestamp(chrono::Utc::now())
}

/// A date as `YYYY-MM-DD`, or `YYYY-MM` / `YYYY` when day or month are unknown (0).
fn partial_date(d: &fallwerk_proto::google::r#type::Date) -> String {
    match (d.month, d.day) {
        (0, _) => format!("{:04}", d.year),
        (m, 0) => format!("{:04}-{m:02}", d.year),
        (m, day) => format!("{:04}-{m:02}-{day:02}", d.year),
    }
}

/// The proto name of an enum value (`VISIT_STATE_WAITING`); `None` for a number this build
/// does not know (a newer service).
fn proto_name<E: TryFrom<i32>>(value: i32, name: fn(&E) -> &'static str) -> Option<&'static str> {
    E::try_from(value).ok().map(|e| name(&e))
}

/// The words of an enum value without its type prefix, for a person: `VISIT_STATE_WAITING`
/// reads `waiting`.
fn short_name<E: TryFrom<i32> + Default>(value: i32, name: fn(&E) -> &'static str) -> String {
    // Every proto enum's zero value is `<PREFIX>UNSPECIFIED`, which yields the prefix.
    let prefix = name(&E::default()).trim_end_matches("UNSPECIFIED");
    match proto_name(value, name) {
        Some(full) => full
            .trim_start_matches(prefix)
            .to_lowercase()
            .replace('_', " "),
        None => format!("unknown ({value})"),
    }
}

#[cfg(test)]
mod tests {
    use fallwerk_proto::intake as pb;

    use super::*;

    #[test]
    fn an_enum_value_has_its_proto_name_and_a_short_name() {
        let state = i32::from(pb::VisitState::ReadyForConsultation);
        assert_eq!(
            proto_name(state, pb::VisitState::as_str_name),
            Some("VISIT_STATE_READY_FOR_CONSULTATION")
        );
        assert_eq!(
            short_name(state, pb::VisitState::as_str_name),
            "ready for consultation"
        );
        let outcome = i32::from(pb::ClaimOutcome::ToBeApplied);
        assert_eq!(
            short_name(outcome, pb::ClaimOutcome::as_str_name),
            "to be applied"
        );
    }

    #[test]
    fn an_unknown_enum_number_stays_visible() {
        assert_eq!(proto_name(99, pb::VisitState::as_str_name), None);
        assert_eq!(short_name(99, pb::VisitState::as_str_name), "unknown (99)");
    }
}
