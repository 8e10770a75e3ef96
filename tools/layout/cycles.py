#!/usr/bin/env python3
"""Fails if a crate's top-level modules import each other in a cycle.

Dependencies inside a crate should run one way, as they do between crates; a cycle is
how a layout decays into "everything is crate:: to everything else". A module's
dependencies are the `crate::<module>` paths its files name (code, not comments),
counted at the crate's top level (`media/src/engine.rs` is `engine`; `node/src/routes/*`
is `routes`). Run from the repository root; prints each cycle found.
"""
import re
import sys
from pathlib import Path

CRATES = ["floor", "indexer", "media", "archive", "node"]


def top_module(src: Path, f: Path) -> str:
    rel = f.relative_to(src).parts
    return Path(rel[0]).stem


def graph(src: Path) -> dict:
    g = {}
    for f in src.rglob("*.rs"):
        if "bin" in f.relative_to(src).parts:
            continue
        m = top_module(src, f)
        if m in ("lib", "main"):
            continue
        code = "\n".join(l.split("//")[0] for l in f.read_text().splitlines())
        # `#[cfg(test)]` blocks may reach anywhere: tests are leaves, not layout.
        code = code.split("#[cfg(test)]")[0]
        deps = set(re.findall(r"crate::([a-z_][a-z0-9_]*)", code)) - {m}
        g.setdefault(m, set()).update(deps)
    return g


def cycles(g: dict) -> list:
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if d not in g:
                continue
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    return found


def main() -> int:
    bad = 0
    for c in CRATES:
        for cyc in cycles(graph(Path(c) / "src")):
            print(f"{c}: module cycle {' -> '.join(cyc)}")
            bad += 1
    if bad:
        return 1
    print("layout: no module cycles in " + ", ".join(CRATES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
