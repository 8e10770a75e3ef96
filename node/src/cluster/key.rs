//! The node key: the secp256k1 key a node signs with, so that other nodes (and anyone) can
//! check a node's word against the registry. Kept as a `0x`-prefixed hex private key, the
//! form `cast wallet` reads, so an operator registers it with tools they already have.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;

/// The key in `path`, created (readable by its owner only) if the file is missing.
pub fn load_or_create(path: &Path) -> anyhow::Result<PrivateKeySigner> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse::<PrivateKeySigner>()
            .with_context(|| format!("{} does not hold a hex secp256k1 key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = PrivateKeySigner::random();
            let hex = format!("0x{}\n", alloy::hex::encode(key.to_bytes()));
            write_private(path, hex.as_bytes())
                .with_context(|| format!("writing the node key {}", path.display()))?;
            tracing::info!(path = %path.display(), key = %key.address(), "created a node key; register it (README, \"A cluster\")");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading the node key {}", path.display())),
    }
}

/// Writes `bytes` to a new file only its owner may read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_then_read() {
        let dir = std::env::temp_dir().join(format!("node-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.key");
        let _ = std::fs::remove_file(&path);
        let made = load_or_create(&path).unwrap();
        let read = load_or_create(&path).unwrap();
        assert_eq!(made.address(), read.address());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only");
        }
        std::fs::write(&path, "not a key").unwrap();
        let e = load_or_create(&path).unwrap_err();
        assert!(
            e.to_string().contains("does not hold a hex secp256k1 key"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
