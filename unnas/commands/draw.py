"""``unnas draw ARCH``: validate a genotype and draw its normal and reduction cells."""

from __future__ import annotations

from pathlib import Path

NAME = "draw"
HELP = "draw the cells of a genotype (published name, genotype.json, run directory or list-form file)"


def add_arguments(parser) -> None:
    parser.add_argument("arch", help="published name (e.g. darts_v2), genotype file, or a search run directory")
    parser.add_argument("--out", default=".", help="folder for cell_normal.png and cell_reduce.png (default: .)")


def run(args) -> int:
    from unnas.errors import ConfigError
    from unnas.spaces.darts.genotype import load_genotype
    from unnas.spaces.darts.plots import draw_genotype

    genotype = load_genotype(args.arch)  # a bad ARCH fails before anything is written
    out = Path(args.out)
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(f"--out {out}: {blocker} is a file, not a folder; pass a folder for the pictures")
    print(genotype)
    try:
        paths = draw_genotype(genotype, out)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write the pictures ({exc.strerror or exc}); "
                          "pass a writable folder") from None
    for path in paths:
        print(f"wrote {path}")
    return 0
