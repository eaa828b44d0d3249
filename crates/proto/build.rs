//! Compiles the public contract in `proto/` with protox (no system `protoc`) and writes the
//! encoded descriptor set beside the generated code, for server reflection.

use std::{env, fs, path::PathBuf};

const PROTO_ROOT: &str = "../../proto";
const FILES: &[&str] = &[
    "fallwerk/type/v1/assessment.proto",
    "fallwerk/type/v1/contact.proto",
    "fallwerk/type/v1/data.proto",
    "fallwerk/type/v1/errors.proto",
    "fallwerk/intake/v1/intake.proto",
    "fallwerk/intake/v1/events.proto",
    "fallwerk/intake/v1/errors.proto",
    "fallwerk/caseplan/v1/caseplan.proto",
    "fallwerk/caseplan/v1/events.proto",
    "fallwerk/caseplan/v1/errors.proto",
    "fallwerk/partner/v1/partner.proto",
    "fallwerk/partner/v1/events.proto",
    "fallwerk/partner/v1/errors.proto",
    "fallwerk/feed/v1/feed.proto",
    "fallwerk/feed/v1/errors.proto",
    "fallwerk/audit/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(FILES)?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    // Encoded by protox, not re-encoded through prost_types, which would drop the options'
    // extensions (`google.api.field_behavior`) that reflection clients and the API docs read.
    fs::write(
        out.join("fallwerk_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let fds = compiler.file_descriptor_set();
    // `prost::Name` on every message: events are stored and fed under their full type name.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
