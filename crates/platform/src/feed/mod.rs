//! Events between services: each service's outbox served as a resumable gRPC feed, and the
//! subscriber a consuming service runs per upstream feed.
//!
//! - [`sequencer`] stamps committed outbox rows with feed positions in commit order.
//! - [`notify`] turns PostgreSQL notifications into wake-ups (no slow polling).
//! - [`service`] is `fallwerk.feed.v1.EventFeedService`: replay from a position, then follow live.
//! - [`subscriber`] applies an upstream's events exactly once, resuming from its cursor.
//! - [`upstream`]: the feeds a service consumes, declared as [`Feed`]s and run beside the server.
//! - [`retention`] prunes what every subscriber has applied once it is old enough.

pub mod notify;
pub mod retention;
pub mod sequencer;
pub mod service;
pub mod subscriber;
pub mod upstream;

pub use upstream::Feed;

use crate::auth::{AccessPolicy, MethodRule, Role};

/// Who may read a feed: other services, and auditors.
pub const POLICY: AccessPolicy = AccessPolicy {
    service: "fallwerk.feed.v1.EventFeedService",
    rules: &[
        MethodRule {
            method: "Subscribe",
            roles: &[Role::Service, Role::Auditor],
        },
        MethodRule {
            method: "Acknowledge",
            roles: &[Role::Service],
        },
    ],
};
