"""``unnas draw ARCH``: validate an architecture and draw it.

A DARTS genotype gives ``cell_normal.png`` and ``cell_reduce.png``; a NAS-Bench-201 or TransNAS-Bench-101
micro cell gives ``cell.png`` (the 4-node cell, op-labelled edges, ``none`` drawn faint); a TransNAS
macro skeleton gives ``modules.png`` (one box per module: keep, ×2 width, ÷2 resolution).
"""

from __future__ import annotations

NAME = "draw"
HELP = "draw an architecture: DARTS cells, a NAS-Bench-201 / TransNAS cell, or a TransNAS module strip"


def add_arguments(parser) -> None:
    parser.add_argument("arch", help="published name (e.g. darts_v2), genotype file, search run directory, or a "
                                     "NAS-Bench-201 / TransNAS-Bench-101 string or file")
    parser.add_argument("--out", default=".", help="folder for the pictures (default: .)")


def run(args) -> int:
    from ._draw import main  # imported on use: `unnas --help` must not import torch or matplotlib

    return main(args)
