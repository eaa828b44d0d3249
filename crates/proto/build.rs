//! Compiles the public contract in `proto/` with protox (no system `protoc`) and writes the
//! encoded descriptor set beside the generated code, for server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTO_ROOT: &str = "../../proto";
const FILES: &[&str] = &[
    "fallwerk/type/v1/assessment.proto",
    "fallwerk/type/v1/contact.proto",
    "fallwerk/type/v1/data.proto",
    "fallwerk/intake/v1/intake.proto",
    "fallwerk/intake/v1/events.proto",
    "fallwerk/caseplan/v1/caseplan.proto",
    "fallwerk/caseplan/v1/events.proto",
    "fallwerk/partner/v1/partner.proto",
    "fallwerk/partner/v1/events.proto",
    "fallwerk/feed/v1/feed.proto",
    "fallwerk/audit/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let fds = protox::compile(FILES, [PROTO_ROOT])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("fallwerk_descriptor.bin"), fds.encode_to_vec())?;
    // `prost::Name` on every message: events are stored and fed under their full type name.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
