//! Compiles the public contract in `proto/` without a system `protoc`: protox parses the files
//! into a descriptor set, which is written to `OUT_DIR` for server reflection and handed to
//! tonic-prost-build for code generation.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "triage/v1/common.proto",
    "triage/v1/feedback.proto",
    "triage/v1/search.proto",
    "triage/v1/satisfaction.proto",
    "triage/v1/review.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("triage_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .extern_path(".google.rpc", "::tonic_types::pb")
        .compile_fds(descriptors)?;
    Ok(())
}
