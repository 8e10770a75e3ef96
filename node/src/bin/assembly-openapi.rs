//! Prints the node's OpenAPI document, as committed in `node/openapi.json`:
//! `cargo run -q -p assembly-node --bin assembly-openapi > node/openapi.json`.

fn main() {
    print!("{}", assembly_node::openapi::json());
}
