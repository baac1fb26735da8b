"""Where chatactors reaches into a library beyond its public API: one module per library."""
