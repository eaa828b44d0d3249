//! case-plan: the case after its first day. Cases arrive from intake's event feed; the
//! responsible advisor builds the help plan with the client in revisions, and closes the case
//! with an outcome whose lasting effect is checked at a follow-up.
//!
//! Layers: [`api`] translates and validates gRPC requests (one file per resource),
//! [`domain`] holds the rules, [`store`] the SQL, [`intake_feed`] and [`partner_feed`] apply
//! intake's and partner's events.
//! [`authz`] says who may call what. Start-up and everything else every service shares comes
//! from the platform crate.

pub mod api;
pub mod authz;
pub mod domain;
pub mod intake_feed;
pub mod partner_feed;
pub mod retention;
pub mod store;

use fallwerk_platform::{
    app::Blueprint,
    migrate::{Migration, Migrator},
};

/// case-plan consumes intake's feed (cases, roster, clients) and partner's (referrals).
fn feeds() -> Vec<fallwerk_platform::feed::Feed> {
    let mut feeds = intake_feed::feeds();
    feeds.push(fallwerk_platform::feed::Feed::new(
        "partner",
        partner_feed::event_types(),
        partner_feed::PartnerEvents,
    ));
    feeds
}

/// The schema case-plan owns.
pub const SCHEMA: &str = "caseplan";

/// case-plan as the platform starts it.
pub const SERVICE: Blueprint = Blueprint {
    name: "case-plan",
    grpc_listen: "127.0.0.1:50052",
    metrics_listen: "127.0.0.1:9102",
    migrator: Migrator::new(
        SCHEMA,
        &[
            Migration {
                id: "0001_caseplan",
                sql: include_str!("../migrations/0001_caseplan.sql"),
            },
            Migration {
                id: "0002_agreements_reviews_timeline",
                sql: include_str!("../migrations/0002_agreements_reviews_timeline.sql"),
            },
            Migration {
                id: "0003_urgency",
                sql: include_str!("../migrations/0003_urgency.sql"),
            },
            Migration {
                id: "0004_referrals",
                sql: include_str!("../migrations/0004_referrals.sql"),
            },
            Migration {
                id: "0005_open_vocabularies",
                sql: include_str!("../migrations/0005_open_vocabularies.sql"),
            },
            Migration {
                id: "0006_partial_birth_dates",
                sql: include_str!("../migrations/0006_partial_birth_dates.sql"),
            },
            Migration {
                id: "0007_retention",
                sql: include_str!("../migrations/0007_retention.sql"),
            },
        ],
    ),
    api: api::api,
    feeds,
    person_records: |pool, person| Box::pin(store::cases::records_of(pool, person)),
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
