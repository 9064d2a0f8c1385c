"""Package data: the 313 ab bins of colorization and the default 3×3 jigsaw permutation set."""
