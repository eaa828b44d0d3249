//! intake's SQL, and nothing else: every statement against the `intake` schema lives here,
//! one module per resource. Functions take a connection so callers decide the transaction;
//! rows that will change in the transaction are read with a `lock_*` function (`FOR UPDATE`).
//! Stored enum values are parsed into domain types on the way out: an unknown value is a
//! decode error, never a default.

pub mod applicants;
pub mod cases;
pub mod consultations;
pub mod roster;
pub mod visits;

/// A stored value the domain does not know, as the error sqlx reports for a bad column.
fn decode<T, E: Into<String>>(parsed: Result<T, E>) -> Result<T, sqlx::Error> {
    parsed.map_err(|e| sqlx::Error::Decode(e.into().into()))
}
