//! Link options of the `orrery-runtime` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        // Compact relative relocations (RELR): the dynamic loader reads a few kilobytes instead
        // of a megabyte and a half of relocation entries at every start, and those pages stay out
        // of the process's resident memory (a benchmarked goal). The binary stays
        // position-independent.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
