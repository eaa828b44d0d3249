//! case-plan through real gRPC against a real PostgreSQL, wired to a real intake by their
//! event feeds over loopback: every case here was opened at intake.

mod access;
mod agreements;
mod backup;
mod feeds;
mod flow;
mod lifecycle;
mod load;
mod retention;
mod rules;
mod validation;

pub(crate) use fallwerk_tests::world::{
    World, agreement_draft, date, first_plan, goal, step, text_form, today,
};
