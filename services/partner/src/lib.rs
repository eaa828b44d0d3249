//! partner: the office's cooperation partners and their offers with capacity, the client's
//! consents, and referrals that carry exactly the consented data, taken from case-plan at the
//! moment of referral. Two gRPC services in one binary: `PartnerService` for the office's
//! staff, `PartnerAgencyService` for the partner agencies' own systems.
//!
//! Layers: [`api`] translates and validates gRPC requests (one file per resource), [`domain`]
//! holds the rules, [`store`] the SQL, [`caseplan_feed`] keeps the open cases from case-plan's
//! feed. [`authz`] says who may call what.

pub mod api;
pub mod authz;
pub mod caseplan_feed;
pub mod domain;
pub mod store;

use fallwerk_platform::{
    app::Blueprint,
    migrate::{Migration, Migrator},
};

/// The schema partner owns.
pub const SCHEMA: &str = "partner";

/// partner as the platform starts it.
pub const SERVICE: Blueprint = Blueprint {
    name: "partner",
    grpc_listen: "127.0.0.1:50053",
    metrics_listen: "127.0.0.1:9103",
    migrator: Migrator::new(
        SCHEMA,
        &[
            Migration {
                id: "0001_partner",
                sql: include_str!("../migrations/0001_partner.sql"),
            },
            Migration {
                id: "0002_agency_stream",
                sql: include_str!("../migrations/0002_agency_stream.sql"),
            },
            Migration {
                id: "0003_progress",
                sql: include_str!("../migrations/0003_progress.sql"),
            },
            Migration {
                id: "0004_case_applicant",
                sql: include_str!("../migrations/0004_case_applicant.sql"),
            },
            Migration {
                id: "0005_erasure",
                sql: include_str!("../migrations/0005_erasure.sql"),
            },
        ],
    ),
    api: api::api,
    feeds: caseplan_feed::feeds,
    person_records: |pool, person| Box::pin(store::cases::records_of(pool, person)),
    // partner keeps no class of its own: it erases what case-plan's CaseErased names.
    retention: |run| Box::pin(run.execute(fallwerk_platform::retention::FollowsEvents)),
};

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_registered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        assert_eq!(super::SERVICE.migrator.registers_every_file_in(dir), Ok(()));
    }
}
