//! Compiles `proto/` with protox (pure Rust, no system `protoc`) and tonic-prost-build,
//! and writes the descriptor set that the reflection service serves.

use prost::Message;
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/contacts/v1/contacts.proto";
    println!("cargo:rerun-if-changed=proto");
    // Integration tests run on PostgreSQL too when this is set; without it those variants
    // are compiled as ignored, so `cargo test` lists exactly what it skipped and why.
    println!("cargo::rustc-check-cfg=cfg(pg_tests)");
    println!("cargo:rerun-if-env-changed=CONTACTD_TEST_PG_URL");
    if env::var("CONTACTD_TEST_PG_URL").is_ok_and(|u| !u.is_empty()) {
        println!("cargo:rustc-cfg=pg_tests");
    }
    let fds = protox::compile([proto], ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out.join("contacts_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
