//! The shared runtime of fallwerk's services, written once: configuration, telemetry, gRPC
//! server start-up and shutdown, authentication and authorization, the error model, the
//! database (pool, health, migrations), and the transactional pieces every service writes
//! beside its own data (outbox, idempotency records, audit log).
//!
//! A service declares what is its own in an [`app::Blueprint`] (its gRPC services,
//! authorization rules, migrations and handlers) and hands the rest to this crate: start-up
//! ([`app`]), wire conversions ([`wire`]), pagination ([`page`]), typed ids ([`id_type!`]),
//! idempotent creates and audited reads ([`change`]), event feeds ([`feed`]), the shared
//! assessment vocabulary ([`vocabulary`]).

pub mod admission;
pub mod app;
pub mod audit;
pub mod auth;
pub mod change;
pub mod client;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod feed;
pub mod idempotency;
pub mod macros;
pub mod migrate;
pub mod outbox;
pub mod page;
pub mod retention;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod tls;
pub mod vocabulary;
pub mod wire;

pub use error::{ApiError, Violations};
