//! What can go wrong in a command, and how it reads on stderr.
//!
//! A refused call is shown with everything the service said: the status, every bad field of a
//! `google.rpc.BadRequest`, the reason and metadata of a `google.rpc.ErrorInfo` (for example
//! the candidate ids of a likely duplicate), and a hint where the next step is obvious.

use std::{fmt, io, path::PathBuf};

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line asks for something impossible that clap could not see (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The intake service refused the call or could not be reached.
    // Boxed: a `Status` is large, and every `Result` of the crate carries this enum.
    #[error("{}", StatusReport(.0))]
    Rpc(Box<Status>),
    /// The service's answer lacks a part it always sends: a version mismatch or a bug.
    #[error("error: the service's answer has no {0}")]
    IncompleteAnswer(&'static str),
    /// The dev key could not be read or written.
    #[error("error: dev key in {}: {source}", dir.display())]
    DevKey {
        /// The key directory.
        dir: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// Writing the answer to stdout failed.
    #[error("error: writing the answer: {0}")]
    Output(io::Error),
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        CliError::Rpc(Box::new(status))
    }
}

/// A status as lines for a person: headline, rich details, hint.
struct StatusReport<'a>(&'a Status);

impl fmt::Display for StatusReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.0;
        write!(f, "error: {}", code_name(status.code()))?;
        if !status.message().is_empty() {
            write!(f, ": {}", status.message())?;
        }
        // A transport failure keeps its root cause (connection refused, a TLS alert) out of the
        // message; the layers in between only repeat the message.
        let root = std::iter::successors(std::error::Error::source(status), |e| e.source()).last();
        if let Some(root) = root.map(|e| e.to_string())
            && !status.message().contains(&root)
        {
            write!(f, ": {root}")?;
        }
        let details = status.get_error_details();
        if let Some(bad_request) = details.bad_request() {
            for violation in &bad_request.field_violations {
                write!(f, "\n  {}: {}", violation.field, violation.description)?;
            }
        }
        if let Some(info) = details.error_info() {
            write!(f, "\n  reason: {}", info.reason)?;
            // Sorted, so the same error always reads the same.
            let mut metadata: Vec<_> = info.metadata.iter().collect();
            metadata.sort();
            for (key, value) in metadata {
                write!(f, "\n  {key}: {}", value.replace(',', ", "))?;
            }
        }
        if let Some(failure) = details.precondition_failure() {
            for violation in &failure.violations {
                write!(
                    f,
                    "\n  {} {}: {}",
                    violation.r#type, violation.subject, violation.description
                )?;
            }
        }
        let reason = details.error_info().map(|info| info.reason.as_str());
        if let Some(hint) = hint(status.code(), reason) {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

/// The next step for errors a person at a terminal meets most.
fn hint(code: Code, reason: Option<&str>) -> Option<&'static str> {
    match (code, reason) {
        (_, Some("LIKELY_DUPLICATE")) => Some(
            "look at the candidates with `fallwerk applicant get <id>` and reuse one; \
             if none is this person, repeat with --allow-duplicate",
        ),
        (Code::Unavailable, _) => Some(
            "is the intake service running at --addr (FALLWERK_INTAKE_ADDR)? \
             With https://, does --ca-cert name the CA of its certificate?",
        ),
        (Code::Unauthenticated, _) => Some(
            "the token is missing, expired or not signed by a key the service knows; \
             for a local service mint one with `fallwerk dev-token`",
        ),
        (Code::PermissionDenied, _) => Some("the token's roles or team do not allow this call"),
        // The client's own deadline answers CANCELLED, the server's DEADLINE_EXCEEDED.
        (Code::DeadlineExceeded | Code::Cancelled, _) => {
            Some("no answer within 10 seconds; the service or its database may be overloaded")
        }
        _ => None,
    }
}

/// The canonical gRPC name of a status code, as other gRPC tools print it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn a_bad_request_names_every_bad_field() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "the request has invalid fields",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("applicant.given_name", "must not be empty"),
                FieldViolation::new("applicant.birth_date", "must not be in the future"),
            ]),
        );
        assert_eq!(
            CliError::from(status).to_string(),
            "error: INVALID_ARGUMENT: the request has invalid fields\n  \
             applicant.given_name: must not be empty\n  \
             applicant.birth_date: must not be in the future"
        );
    }

    #[test]
    fn a_likely_duplicate_lists_the_candidates_and_what_to_do() {
        let status = Status::with_error_details(
            Code::FailedPrecondition,
            "2 existing applicant(s) have this name and date of birth",
            ErrorDetails::with_error_info(
                "LIKELY_DUPLICATE",
                "fallwerk",
                HashMap::from([("candidate_ids".to_owned(), "a1,b2".to_owned())]),
            ),
        );
        let report = CliError::from(status).to_string();
        assert!(
            report.starts_with("error: FAILED_PRECONDITION: 2 existing"),
            "{report}"
        );
        assert!(
            report.contains("\n  reason: LIKELY_DUPLICATE\n  candidate_ids: a1, b2\n"),
            "{report}"
        );
        assert!(report.contains("--allow-duplicate"), "{report}");
    }
}
