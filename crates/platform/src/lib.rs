//! The shared runtime of fallwerk's services, written once: configuration, telemetry, gRPC
//! server start-up and shutdown, authentication and authorization, the error model, the
//! database (pool, health, migrations), and the transactional pieces every service writes
//! beside its own data (outbox, idempotency records, audit log).
//!
//! A service declares what is its own (its gRPC services, authorization rules, migrations and
//! handlers) and hands the rest to this crate.

pub mod audit;
pub mod auth;
pub mod change;
pub mod clock;
pub mod config;
pub mod db;
pub mod devkey;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod migrate;
pub mod outbox;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use error::{ApiError, Violations};
