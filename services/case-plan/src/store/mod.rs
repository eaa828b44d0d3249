//! case-plan's SQL, one file per resource. Every statement is checked against the migrated
//! schema at compile time (`query!`, offline cache in `.sqlx/`).

pub mod advisors;
pub mod agenda;
pub mod agreements;
pub mod cases;
pub mod erasure;
pub mod plans;
pub mod referrals;
pub mod reviews;
pub mod teams;
pub mod timeline;
