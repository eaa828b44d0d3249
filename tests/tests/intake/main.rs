//! intake through real gRPC against a real PostgreSQL, one database per test.

mod access;
mod applicants;
mod audit;
mod database_restart;
mod database_roles;
mod endings;
mod flow;
mod hostile;
mod operations;
mod overload;
mod person;
mod retention;
mod roster;
mod same_day;
mod validation;

pub(crate) use fallwerk_tests::office::{
    Office, applicant, complete, continue_check, date, wire_date,
};
