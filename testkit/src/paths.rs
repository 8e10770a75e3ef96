//! Files the tests need from the repository: the Foundry binaries `script/setup` installs,
//! the tools the end-to-end tests drive.

use std::path::{Path, PathBuf};

/// A path in the repository (`rel` from its root).
pub fn repo_path(rel: &str) -> PathBuf {
    // The testkit sits one level below the root, as every crate of the workspace does.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// A Foundry binary installed by `script/setup` (the native one, not npm's launcher, so
/// that killing it kills the node).
pub fn foundry(tool: &str) -> PathBuf {
    let arch = if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "amd64"
    };
    let os = if cfg!(target_os = "macos") {
        "darwin"
    } else {
        "linux"
    };
    let p = repo_path(&format!(
        "tools/node_modules/@foundry-rs/{tool}-{os}-{arch}/bin/{tool}"
    ));
    assert!(p.exists(), "{} missing: run script/setup", p.display());
    p
}
