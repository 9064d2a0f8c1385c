"""Search spaces: DARTS cells, NAS-Bench-101 modules and NAS-Bench-MR multi-resolution networks."""
