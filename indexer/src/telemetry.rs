//! Logging for both binaries: `tracing` filtered by `RUST_LOG` (default `info`), as text, or
//! as JSON lines with `ASSEMBLY_LOG_FORMAT=json`.

/// Installs the global subscriber.
pub fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if std::env::var("ASSEMBLY_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}
