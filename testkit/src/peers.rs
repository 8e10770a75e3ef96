//! WebRTC peers from other stacks (`tools/interop`): each is a script that publishes or
//! listens through the node and prints one JSON report as its last line of output.

use std::process::Stdio;

use serde_json::Value;

use crate::paths::repo_path;

/// Runs `interpreter script args…` (the script under the repository's root) and returns its
/// report. Any other output goes to the test's stderr (GLib, asked for its debug messages,
/// prints them to stdout). `needs` says what to install when the interpreter is missing.
pub async fn report(interpreter: &str, script: &str, args: &[&str], needs: &str) -> Value {
    let out = tokio::process::Command::new(interpreter)
        .arg(repo_path(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{interpreter} {script}: {e} ({needs})"));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    for line in text.lines().filter(|l| *l != last) {
        eprintln!("{script}: {line}");
    }
    serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("{script} {args:?} ({}): {text}", out.status))
}
