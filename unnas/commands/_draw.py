"""The body of ``unnas draw`` (see :mod:`unnas.commands.draw`)."""

from __future__ import annotations

from pathlib import Path

from unnas.errors import ConfigError
from unnas.spaces.darts.plots import draw_genotype
from unnas.spaces.nasbench201.plots import plot_cell
from unnas.spaces.transnas.plots import plot_macro, plot_micro
from unnas.trials.spaces import detect

#: space → (file name, how it is drawn)
PICTURES = {"nasbench201": ("cell.png", plot_cell), "transnas_micro": ("cell.png", plot_micro),
            "transnas_macro": ("modules.png", plot_macro)}


def main(args) -> int:
    space, arch = detect(args.arch)  # a bad ARCH fails before anything is written
    if space.name not in ("darts", *PICTURES):
        raise ConfigError(f"{args.arch} is a {space.name} architecture; unnas draw draws darts, "
                          f"{', '.join(PICTURES)} architectures (`unnas info {args.arch}` measures it)")
    out = Path(args.out)
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(f"--out {out}: {blocker} is a file, not a folder; pass a folder for the pictures")
    print(arch)
    try:
        if space.name == "darts":
            paths = draw_genotype(arch, out)
        else:
            name, draw = PICTURES[space.name]
            out.mkdir(parents=True, exist_ok=True)
            paths = [draw(arch, out / name)]
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write the pictures ({exc.strerror or exc}); "
                          "pass a writable folder") from None
    for path in paths:
        print(f"wrote {path}")
    return 0
