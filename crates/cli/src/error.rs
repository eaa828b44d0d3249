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
    /// A service refused the call or could not be reached.
    #[error("{}", StatusReport(.status, *.service))]
    Rpc {
        /// What the service answered.
        // Boxed: a `Status` is large, and every `Result` of the crate carries this enum.
        status: Box<Status>,
        /// Which service it was.
        service: Service,
    },
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
    /// A service's audit trail is not intact (shown above).
    #[error("error: an audit trail is broken; see above")]
    AuditBroken,
    /// Writing the answer to stdout failed.
    #[error("error: writing the answer: {0}")]
    Output(io::Error),
}

/// The service a call went to, so the hint for an unreachable one names the right address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// intake (`--addr`).
    Intake,
    /// case-plan (`--case-plan-addr`).
    CasePlan,
    /// partner (`--partner-addr`).
    Partner,
}

impl CliError {
    /// Marks a refused call as one of `service`'s; other errors stay as they are.
    pub fn answered_by(self, service: Service) -> Self {
        match self {
            CliError::Rpc { status, .. } => CliError::Rpc { status, service },
            other => other,
        }
    }
}

/// `?` on a call's status: intake's, unless the command marks it with
/// [`CliError::answered_by`].
impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        CliError::Rpc {
            status: Box::new(status),
            service: Service::Intake,
        }
    }
}

/// A status as lines for a person: headline, rich details, hint.
struct StatusReport<'a>(&'a Status, Service);

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
                write!(f, "\n  {key}: {value}")?;
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
        let from_transport = std::error::Error::source(status).is_some();
        if let Some(hint) = hint(status.code(), reason, self.1, from_transport) {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

/// The next step for errors a person at a terminal meets most.
/// `from_transport`: the status was made by this side's channel (no connection, TLS), not
/// answered by the service.
fn hint(
    code: Code,
    reason: Option<&str>,
    service: Service,
    from_transport: bool,
) -> Option<&'static str> {
    match (code, reason) {
        (_, Some("LIKELY_DUPLICATE")) => Some(
            "look at the candidates with `fallwerk applicant get <id>` and reuse one; \
             if none is this person, repeat with --allow-duplicate",
        ),
        (_, Some("NOT_LOCALLY_RESPONSIBLE")) => Some(
            "forward the application: `fallwerk access-check <visit-id> --decision \
             not-locally-responsible --forwarded-to \"<authority>\"`",
        ),
        (_, Some("LEGAL_BASIS_REQUIRED")) => {
            Some("set the case's legal basis first: `fallwerk case set-basis <case-id>`")
        }
        (_, Some("PLAN_REQUIRED")) => {
            Some("make the first plan: `fallwerk plan revise <case-id> --cause first-plan`")
        }
        (_, Some("FIRST_PLAN_CAUSE")) => {
            Some("the first revision has --cause first-plan; every later one another cause")
        }
        (_, Some("REVISION_NOT_APPROVED")) => Some(
            "a team lead approves the revision: `fallwerk plan approve <case-id> --revision <n>`",
        ),
        (_, Some("AGREEMENT_IN_PROGRESS")) => {
            Some("`fallwerk agreement list <case-id>` shows the open draft or proposal")
        }
        (_, Some("CLIENT_HAS_OPEN_CASE")) => {
            Some("go on with the client's open case (case_id above) instead")
        }
        (Code::Aborted, _) => Some(
            "it changed since you read it: show it again (`case show`, `agreement show`, \
             `plan show`) and repeat with its current --etag",
        ),
        (Code::Unavailable, _) => Some(match (service, from_transport) {
            (Service::Intake, _) => {
                "is the intake service running at --addr (FALLWERK_INTAKE_ADDR)? \
                 With https://, does --ca-cert name the CA of its certificate?"
            }
            (Service::CasePlan, true) => {
                "is the case-plan service running at --case-plan-addr (FALLWERK_CASE_PLAN_ADDR)? \
                 With https://, does --ca-cert name the CA of its certificate?"
            }
            // case-plan itself answered: it has not caught up with intake (--at-position).
            (Service::CasePlan, false) => "repeat in a moment",
            (Service::Partner, _) => {
                "is the partner service running at --partner-addr (FALLWERK_PARTNER_ADDR)? \
                 With https://, does --ca-cert name the CA of its certificate?"
            }
        }),
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
                "fallwerk.intake.v1",
                HashMap::from([
                    ("candidate_1".to_owned(), "a1".to_owned()),
                    ("candidate_2".to_owned(), "b2".to_owned()),
                    ("candidate_count".to_owned(), "2".to_owned()),
                ]),
            ),
        );
        let report = CliError::from(status).to_string();
        assert!(
            report.starts_with("error: FAILED_PRECONDITION: 2 existing"),
            "{report}"
        );
        assert!(
            report.contains(
                "\n  reason: LIKELY_DUPLICATE\n  candidate_1: a1\n  candidate_2: b2\n  \
                 candidate_count: 2\n"
            ),
            "{report}"
        );
        assert!(report.contains("--allow-duplicate"), "{report}");
    }

    #[test]
    fn an_unreachable_case_plan_names_its_own_address() {
        // As the channel makes it: the cause is the status's source.
        let refused = || {
            let mut status = Status::unavailable("tcp connect error");
            status.set_source(std::sync::Arc::new(io::Error::from(
                io::ErrorKind::ConnectionRefused,
            )));
            status
        };
        let error = CliError::from(refused())
            .answered_by(Service::CasePlan)
            .to_string();
        assert!(
            error.contains("--case-plan-addr (FALLWERK_CASE_PLAN_ADDR)"),
            "{error}"
        );
        let intake = CliError::from(refused()).to_string();
        assert!(intake.contains("--addr (FALLWERK_INTAKE_ADDR)"), "{intake}");
    }

    #[test]
    fn a_case_plan_behind_intake_is_worth_a_retry() {
        let status = Status::unavailable(
            "intake's change at feed position 42 has not arrived here yet; retry",
        );
        let error = CliError::from(status)
            .answered_by(Service::CasePlan)
            .to_string();
        assert!(error.ends_with("\nhint: repeat in a moment"), "{error}");
    }

    #[test]
    fn a_stale_etag_says_to_read_again() {
        let error = CliError::from(Status::aborted("the case changed")).to_string();
        assert!(error.contains("repeat with its current --etag"), "{error}");
    }
}
