//! case-plan's SQL, one file per resource. Every statement is checked against the migrated
//! schema at compile time (`query!`, offline cache in `.sqlx/`).

pub mod advisors;
pub mod cases;
pub mod plans;
