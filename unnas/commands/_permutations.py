"""The body of ``unnas permutations`` (see :mod:`unnas.commands.permutations`)."""

from __future__ import annotations

import io
import json

import numpy as np

from pretext.permutations import generate_permutations, hamming_stats, load_permutations
from unnas.atomic import atomic_write_bytes
from unnas.engine.rundir import finite_or_null


def main(args) -> int:
    if args.stats:
        perms = load_permutations(args.stats, args.grid * args.grid)
        report = {"file": args.stats, "grid": args.grid, "count": len(perms)}
    else:
        perms = generate_permutations(args.grid, args.count, args.seed)
        report = {"grid": args.grid, "count": args.count, "seed": args.seed}
        if args.out:
            buf = io.BytesIO()
            np.save(buf, perms)
            atomic_write_bytes(args.out, buf.getvalue())
            report["out"] = args.out
    print(json.dumps(finite_or_null({**report, **hamming_stats(perms)}), allow_nan=False))
    return 0
