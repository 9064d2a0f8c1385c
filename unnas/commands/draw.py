"""``unnas draw ARCH``: validate a genotype and draw its normal and reduction cells."""

from __future__ import annotations

from pathlib import Path

NAME = "draw"
HELP = "draw the cells of a genotype (published name, genotype.json, run directory or list-form file)"


def add_arguments(parser) -> None:
    parser.add_argument("arch", help="published name (e.g. darts_v2), genotype file, or a search run directory")
    parser.add_argument("--out", default=".", help="folder for cell_normal.png and cell_reduce.png (default: .)")


def run(args) -> int:
    from unnas.spaces.darts.genotype import load_genotype
    from unnas.spaces.darts.plots import draw_genotype

    genotype = load_genotype(args.arch)
    print(genotype)
    for path in draw_genotype(genotype, Path(args.out)):
        print(f"wrote {path}")
    return 0
