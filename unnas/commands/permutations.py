"""``unnas permutations``: generate a jigsaw permutation set, or report the statistics of one.

Prints one JSON line with the set's minimum and mean pairwise Hamming distance, so sets can be
compared (the paper's 3×3 set: min 2, mean ≈ 8.01).
"""

from __future__ import annotations

import json

NAME = "permutations"
HELP = "generate a jigsaw permutation set (greedy maximal Hamming distance) and print its statistics"


def add_arguments(parser) -> None:
    parser.add_argument("--grid", type=int, default=3, help="tiles per side (default 3: permutations of 9)")
    parser.add_argument("--count", type=int, default=1000, help="number of permutations (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the greedy selection (default 0)")
    parser.add_argument("--out", metavar="FILE.npy", help="write the set here (int64, 0-based), atomically")
    parser.add_argument("--stats", metavar="FILE.npy",
                        help="only report the statistics of an existing set (e.g. the paper's)")


def run(args) -> int:
    import io

    import numpy as np

    from pretext.permutations import generate_permutations, hamming_stats, load_permutations
    from unnas.atomic import atomic_write_bytes
    from unnas.engine.rundir import finite_or_null

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
