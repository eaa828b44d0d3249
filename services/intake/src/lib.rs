//! intake: the office's front. Applicants, visits, access checks, first consultations, the
//! roster of teams and advisors, and the opening of cases with a responsible advisor. It learns
//! from case-plan's feed when a case closes ([`case_plan_feed`]).
//!
//! Layers: [`api`] translates and validates gRPC requests (one file per resource),
//! [`domain`] holds the rules, [`store`] the SQL. [`authz`] says who may call what. Start-up,
//! configuration and everything else every service shares comes from the platform crate.

pub mod api;
pub mod authz;
pub mod case_plan_feed;
pub mod domain;
pub mod retention;
pub mod store;

use fallwerk_platform::{
    app::Blueprint,
    migrate::{Migration, Migrator},
};

/// The schema intake owns.
pub const SCHEMA: &str = "intake";

/// intake as the platform starts it.
pub const SERVICE: Blueprint = Blueprint {
    name: "intake",
    grpc_listen: "127.0.0.1:50051",
    metrics_listen: "127.0.0.1:9101",
    migrator: Migrator::new(
        SCHEMA,
        &[
            Migration {
                id: "0001_intake",
                sql: include_str!("../migrations/0001_intake.sql"),
            },
            Migration {
                id: "0002_domain_values",
                sql: include_str!("../migrations/0002_domain_values.sql"),
            },
            Migration {
                id: "0003_one_open_case",
                sql: include_str!("../migrations/0003_one_open_case.sql"),
            },
            Migration {
                id: "0004_visit_endings",
                sql: include_str!("../migrations/0004_visit_endings.sql"),
            },
            Migration {
                id: "0005_open_vocabularies",
                sql: include_str!("../migrations/0005_open_vocabularies.sql"),
            },
            Migration {
                id: "0006_visit_kind",
                sql: include_str!("../migrations/0006_visit_kind.sql"),
            },
            Migration {
                id: "0007_person",
                sql: include_str!("../migrations/0007_person.sql"),
            },
            Migration {
                id: "0008_team_version",
                sql: include_str!("../migrations/0008_team_version.sql"),
            },
            Migration {
                id: "0009_retention",
                sql: include_str!("../migrations/0009_retention.sql"),
            },
        ],
    ),
    api: api::api,
    feeds: case_plan_feed::feeds,
    person_records: |pool, person| Box::pin(store::applicants::records_of(pool, person)),
    retention: |run| Box::pin(run.execute(retention::Rules)),
};

#[cfg(test)]
mod tests {
    #[test]
    fn every_migration_file_is_registered() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        assert_eq!(super::SERVICE.migrator.registers_every_file_in(dir), Ok(()));
    }
}
