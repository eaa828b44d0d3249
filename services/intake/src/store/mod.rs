//! intake's SQL, and nothing else: every statement against the `intake` schema lives here,
//! one module per resource. Functions take a connection so callers decide the transaction;
//! rows that will change in the transaction are read with a `lock_*` function (`FOR UPDATE`).
//! Every static statement is a `sqlx::query*!` macro, checked at compile time against the
//! migrated schema (or the committed `.sqlx/` cache of that check; `make sqlx-prepare`).
//! Ids and stored enums are read as domain types through column overrides
//! (`state AS "state: VisitState"`): an unknown stored value is a decode error, never a
//! default.

pub mod applicants;
pub mod cases;
pub mod consultations;
pub mod erasure;
pub mod roster;
pub mod visits;
