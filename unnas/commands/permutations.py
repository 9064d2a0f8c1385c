"""``unnas permutations``: generate a jigsaw permutation set, or report the statistics of one.

Prints one JSON line with the set's minimum and mean pairwise Hamming distance, so sets can be
compared (the paper's 3×3 set: min 2, mean ≈ 8.01).
"""

from __future__ import annotations

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
    from ._permutations import main  # imported on use: `unnas --help` must not import torch

    return main(args)
