"""Where chatactors reaches into a library beyond its public API: one module per library
(docs/UPSTREAM.md lists every override and why; tests/compat/ fails when upstream changes)."""
