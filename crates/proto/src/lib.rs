//! fallwerk's public gRPC contract as Rust types, generated from `proto/` at build time.
//!
//! Module paths follow the protobuf packages: `fallwerk::intake::v1` is
//! `fallwerk.intake.v1`. The `.proto` files are the source of truth and carry the
//! documentation; generated code is never committed.

// The generated docs are the proto comments as integrators read them; their Markdown is not
// held to rustdoc's list layout.
#![allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]

/// Encoded `FileDescriptorSet` of every fallwerk `.proto` (with their imports), for server
/// reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/fallwerk_descriptor.bin"));

/// `google.type`: the vendored common types.
pub mod google {
    /// `google.type`.
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
    }
}

/// `fallwerk.*`.
pub mod fallwerk {
    /// `fallwerk.audit`.
    pub mod audit {
        /// `fallwerk.audit.v1`: the audit trail every service serves.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/fallwerk.audit.v1.rs"));
        }
    }
    /// `fallwerk.feed`.
    pub mod feed {
        /// `fallwerk.feed.v1`: the event feed every service serves.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/fallwerk.feed.v1.rs"));
        }
    }
    /// `fallwerk.type`.
    pub mod r#type {
        /// `fallwerk.type.v1`: the vocabulary every service shares.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/fallwerk.r#type.v1.rs"));
        }
    }
    /// `fallwerk.caseplan`.
    pub mod caseplan {
        /// `fallwerk.caseplan.v1`: the case-plan service and its events.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/fallwerk.caseplan.v1.rs"));
        }
    }
    /// `fallwerk.partner`.
    pub mod partner {
        /// `fallwerk.partner.v1`: the partner service, its partner-facing service and events.
        pub mod v1 {
            #![allow(clippy::large_enum_variant)]
            include!(concat!(env!("OUT_DIR"), "/fallwerk.partner.v1.rs"));
        }
    }
    /// `fallwerk.intake`.
    pub mod intake {
        /// `fallwerk.intake.v1`: the intake service and its events.
        pub mod v1 {
            #![allow(clippy::large_enum_variant)]
            include!(concat!(env!("OUT_DIR"), "/fallwerk.intake.v1.rs"));
        }
    }
}

pub use fallwerk::{
    audit::v1 as audit, caseplan::v1 as caseplan, feed::v1 as feed, intake::v1 as intake,
    partner::v1 as partner, r#type::v1 as types,
};
