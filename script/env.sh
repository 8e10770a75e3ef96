# Sourced by the scripts: the project's tools first on PATH, and a cargo target directory
# outside the clone (if the caller has not chosen one) so repeated runs reuse the build.
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/node_modules/.bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assembly/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
