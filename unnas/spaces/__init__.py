"""Search spaces: DARTS cells and NAS-Bench-101 modules."""
