//! The one mapping from what went wrong to a rich gRPC status.
//!
//! Handlers return [`ApiError`]; nothing else builds a `tonic::Status`. Bad input becomes
//! INVALID_ARGUMENT with a `google.rpc.BadRequest` naming every bad field, state-machine
//! violations FAILED_PRECONDITION with a stable `ErrorInfo` reason, a stale etag ABORTED.
//! Database failures are logged with their cause and answered without it.
//!
//! Every `ErrorInfo` reason is a value of a package's `ErrorReason` enum in `proto/` (see
//! [`Reason`]), so a reason the contract does not document cannot be sent.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// An `ErrorInfo` reason as the contract documents it: a value of the `ErrorReason` enum of
/// one proto package, which is also the `ErrorInfo.domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    /// `ErrorInfo.domain`: the package whose `ErrorReason` lists the reason.
    pub domain: &'static str,
    /// `ErrorInfo.reason`: the value's name.
    pub name: &'static str,
}

/// `From<ErrorReason>` for each package's enum, with the package as the domain.
macro_rules! reasons_of {
    ($($package:ident => $domain:literal),* $(,)?) => {
        $(impl From<fallwerk_proto::$package::ErrorReason> for Reason {
            fn from(reason: fallwerk_proto::$package::ErrorReason) -> Self {
                Reason { domain: $domain, name: reason.as_str_name() }
            }
        })*
        /// Every domain [`Reason`] sends, for the test that each names a proto package.
        #[cfg(test)]
        const DOMAINS: &[&str] = &[$($domain),*];
    };
}

reasons_of!(
    types => "fallwerk.type.v1",
    feed => "fallwerk.feed.v1",
    intake => "fallwerk.intake.v1",
    caseplan => "fallwerk.caseplan.v1",
    partner => "fallwerk.partner.v1",
);

use fallwerk_proto::types::ErrorReason as Shared;

/// Everything wrong with one request, collected so the caller learns every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that `field` (its path in the request, e.g. `applicant.birth_date`) is bad.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Whether nothing was found wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parsed value when nothing was found wrong, else the INVALID_ARGUMENT error naming
    /// every bad field. Parsers return `None` exactly when they added a violation.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if !self.0.is_empty() => Err(ApiError::InvalidArgument(self.0)),
            _ => Err(ApiError::Internal(
                "a parser failed without naming the field".into(),
            )),
        }
    }

    /// Runs a field parser and keeps its value, or notes its complaint and returns `None`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description);
                None
            }
        }
    }
}

/// What a request can fail with, independent of gRPC.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad input: every bad field with what is wrong with it.
    #[error("the request has invalid fields")]
    InvalidArgument(Vec<FieldViolation>),
    /// No such object, or one the caller may not know exists.
    #[error("{resource} {id} not found")]
    NotFound {
        /// Kind of object, e.g. `applicant`.
        resource: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The object is not in a state that allows this.
    #[error("{message}")]
    FailedPrecondition {
        /// Why, as the contract documents it.
        reason: Reason,
        /// What a person reads.
        message: String,
        /// Extra facts for the caller (e.g. a case id); a list as numbered keys
        /// ([`numbered`]).
        metadata: HashMap<String, String>,
    },
    /// The etag sent is not the current one: someone changed the object meanwhile.
    #[error("{resource} {id} was changed since it was read; read it again")]
    StaleEtag {
        /// Kind of object.
        resource: &'static str,
        /// Its id.
        id: String,
    },
    /// A limit of the object is reached (a full offer, no advisor capacity).
    #[error("{message}")]
    ResourceExhausted {
        /// Why, as the contract documents it.
        reason: Reason,
        /// What a person reads.
        message: String,
    },
    /// No valid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials without the right to do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Not possible right now; the same request may succeed when retried.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A bug or broken invariant: logged with detail, answered as INTERNAL without it.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// FAILED_PRECONDITION without metadata.
    pub fn precondition(reason: impl Into<Reason>, message: impl Into<String>) -> Self {
        ApiError::FailedPrecondition {
            reason: reason.into(),
            message: message.into(),
            metadata: HashMap::new(),
        }
    }

    /// INVALID_ARGUMENT for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// ABORTED: the etag sent is not the object's current one.
    pub fn stale(resource: &'static str, id: impl ToString) -> Self {
        ApiError::StaleEtag {
            resource,
            id: id.to_string(),
        }
    }

    /// NOT_FOUND for one object.
    pub fn not_found(resource: &'static str, id: impl ToString) -> Self {
        ApiError::NotFound {
            resource,
            id: id.to_string(),
        }
    }
}

/// A list as `ErrorInfo` metadata: `{name}_1` … `{name}_N` and `{name}_count`, so a client
/// reads ids without splitting a joined string.
pub fn numbered<S: ToString>(name: &str, values: &[S]) -> HashMap<String, String> {
    let mut metadata: HashMap<String, String> = values
        .iter()
        .enumerate()
        .map(|(i, value)| (format!("{name}_{}", i + 1), value.to_string()))
        .collect();
    metadata.insert(format!("{name}_count"), values.len().to_string());
    metadata
}

/// `ErrorInfo` of `reason` with `metadata`.
fn info(reason: impl Into<Reason>, metadata: HashMap<String, String>) -> ErrorDetails {
    let reason = reason.into();
    ErrorDetails::with_error_info(reason.name, reason.domain, metadata)
}

/// The most bytes of the caller's own input an error echoes: status and details travel in
/// HTTP/2 trailers, and a standard client refuses trailers over 16 KiB, so an unbounded echo
/// (a 20 000-character mask path) would hide the real answer behind the client's own
/// RESOURCE_EXHAUSTED.
const ECHO_LIMIT: usize = 256;
/// The most field violations one answer lists.
const VIOLATIONS_LIMIT: usize = 50;

/// `text` cut to at most `max` bytes at a character boundary, marked when cut.
fn bounded(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The violations as sent: each bounded, and at most [`VIOLATIONS_LIMIT`] of them.
fn bounded_violations(violations: Vec<FieldViolation>) -> Vec<FieldViolation> {
    let total = violations.len();
    let mut sent: Vec<FieldViolation> = violations
        .into_iter()
        .take(VIOLATIONS_LIMIT)
        .map(|v| {
            FieldViolation::new(
                bounded(v.field, ECHO_LIMIT),
                bounded(v.description, ECHO_LIMIT),
            )
        })
        .collect();
    if total > VIOLATIONS_LIMIT {
        sent.push(FieldViolation::new(
            "",
            format!("and {} more", total - VIOLATIONS_LIMIT),
        ));
    }
    sent
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        let message = bounded(error.to_string(), 4 * ECHO_LIMIT);
        match error {
            ApiError::InvalidArgument(violations) => Status::with_error_details(
                Code::InvalidArgument,
                message,
                ErrorDetails::with_bad_request(bounded_violations(violations)),
            ),
            ApiError::NotFound { resource, id } => Status::with_error_details(
                Code::NotFound,
                message,
                info(
                    Shared::NotFound,
                    HashMap::from([
                        ("resource".to_owned(), resource.to_owned()),
                        ("id".to_owned(), id),
                    ]),
                ),
            ),
            ApiError::FailedPrecondition {
                reason, metadata, ..
            } => Status::with_error_details(
                Code::FailedPrecondition,
                message,
                info(reason, metadata),
            ),
            ApiError::StaleEtag { .. } => Status::with_error_details(
                Code::Aborted,
                message,
                info(Shared::StaleEtag, HashMap::new()),
            ),
            ApiError::ResourceExhausted { reason, .. } => Status::with_error_details(
                Code::ResourceExhausted,
                message,
                info(reason, HashMap::new()),
            ),
            ApiError::Unauthenticated(_) => Status::unauthenticated(message),
            ApiError::PermissionDenied(_) => Status::permission_denied(message),
            ApiError::Unavailable(_) => Status::unavailable(message),
            ApiError::Database(cause) => database_status(cause),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

fn database_status(cause: sqlx::Error) -> Status {
    if database_unavailable(&cause) {
        tracing::warn!(error = %cause, "database unavailable");
        Status::unavailable("the database is unavailable; retry later")
    } else {
        tracing::error!(error = %cause, "database error");
        Status::internal("internal error")
    }
}

/// Whether the database was away or overloaded rather than the statement wrong: the pool had
/// no connection in time, the connection broke, or PostgreSQL was shutting down, starting, or
/// full. A client may retry these (the transaction was rolled back); anything else is a fault.
pub fn database_unavailable(cause: &sqlx::Error) -> bool {
    match cause {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(error) => error.code().is_some_and(|code| {
            // 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown, cannot
            // connect now (starting up); 53300: too many connections.
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_domain_is_a_package_with_an_error_reason_enum() {
        use prost::Message;
        let set = prost_types::FileDescriptorSet::decode(fallwerk_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptor set");
        for domain in DOMAINS {
            assert!(
                set.file.iter().any(|file| file.package() == *domain
                    && file.enum_type.iter().any(|e| e.name() == "ErrorReason")),
                "{domain} has no ErrorReason enum"
            );
        }
    }

    #[test]
    fn a_list_is_sent_as_numbered_keys() {
        let metadata = numbered("candidate", &["a", "b"]);
        assert_eq!(metadata["candidate_1"], "a");
        assert_eq!(metadata["candidate_2"], "b");
        assert_eq!(metadata["candidate_count"], "2");
        assert_eq!(numbered::<&str>("category", &[])["category_count"], "0");
    }

    #[test]
    fn an_error_echoes_only_a_bounded_part_of_the_callers_input() {
        let long = "ä".repeat(20_000);
        let mut v = Violations::new();
        v.add("update_mask.paths", format!("`{long}` cannot be updated"));
        for i in 0..200 {
            v.add(format!("items[{i}]"), "is bad");
        }
        let status = Status::from(v.finish::<()>(None).expect_err("refused"));
        let sent = status.get_details_bad_request().expect("bad request");
        assert_eq!(sent.field_violations.len(), VIOLATIONS_LIMIT + 1);
        assert!(sent.field_violations[0].description.len() <= ECHO_LIMIT + '…'.len_utf8());
        assert_eq!(
            sent.field_violations[VIOLATIONS_LIMIT].description,
            "and 151 more"
        );
        assert!(
            status.details().len() < 16 * 1024,
            "fits a client's trailers"
        );
    }
}
