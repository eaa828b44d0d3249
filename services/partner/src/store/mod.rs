//! partner's SQL, one file per resource, checked at compile time against the migrated schema.

pub mod cases;
pub mod consents;
pub mod offers;
pub mod partners;
pub mod referrals;
pub mod sharing;
pub mod stream;
