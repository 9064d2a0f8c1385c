"""Seeded samples of TransNAS-Bench-101 architectures for studies, and their sample files.

Draw i of seed s is the i-th uniform draw (:meth:`~.mutation.TransNASMicroSpace.sample` or
:meth:`~.mutation.TransNASMacroSpace.sample`) of ``numpy.random.default_rng(s)``, with id
``f"{i:05d}"``: a larger ``count`` keeps every earlier draw and id. Draws may repeat.

A sample file is ``{"space": "transnas_micro" | "transnas_macro", "archs": [{"id": "00000", "arch":
"<string>"}, ...]}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unnas.atomic import atomic_write_json
from unnas.errors import DataError, GenotypeError
from unnas.spaces.base import read_json

from .arch import MICRO, SPACES, TransNASArch, canonical_space, load_arch
from .mutation import TransNASMacroSpace, TransNASMicroSpace

ID_DIGITS = 5


def space_view(space: str) -> TransNASMicroSpace | TransNASMacroSpace:
    """The black-box view of ``transnas_micro`` or ``transnas_macro`` (also ``micro`` / ``macro``)."""
    return TransNASMicroSpace() if canonical_space(space) == MICRO else TransNASMacroSpace()


def sample_architectures(space: str, count: int, seed: int = 0) -> list[tuple[str, TransNASArch]]:
    """``[(id, arch)]``: the first ``count`` uniform draws of ``seed`` in ``space``."""
    rng, view = np.random.default_rng(seed), space_view(space)
    return [(f"{i:0{ID_DIGITS}d}", view.sample(rng)) for i in range(count)]


def save_samples(path: str | Path, samples: list[tuple[str, TransNASArch]], **meta) -> Path:
    spaces = {a.space for _, a in samples}
    if len(spaces) > 1:
        raise GenotypeError(f"a sample file holds one space; got {', '.join(sorted(spaces))}")
    space = spaces.pop() if spaces else meta.pop("space", MICRO)
    meta.pop("space", None)
    return atomic_write_json(path, {"space": space, **meta, "archs": [{"id": i, "arch": str(a)} for i, a in samples]})


def load_samples(path: str | Path) -> list[tuple[str, TransNASArch]]:
    """``[(id, arch)]`` from a sample file written by :func:`save_samples` (ids default to the position)."""
    data = read_json(path, "sample list", DataError)
    ok = isinstance(data, dict) and data.get("space") in SPACES and isinstance(data.get("archs"), list)
    if not ok:
        raise DataError(f"{path}: expected {{\"space\": \"transnas_micro\" | \"transnas_macro\", \"archs\": "
                        "[{\"id\": ..., \"arch\": ...}, ...]}")
    out = []
    for i, a in enumerate(data["archs"]):
        where = f"{path}: archs[{i}]"
        if not isinstance(a, dict) or not isinstance(a.get("arch"), str):
            raise GenotypeError(f"{where}: expected {{\"id\": ..., \"arch\": \"<string>\"}}, got {a!r}")
        try:
            arch = load_arch(a["arch"], data["space"])
        except GenotypeError as e:
            raise GenotypeError(f"{where}: {e}") from None
        out.append((str(a.get("id", f"{i:0{ID_DIGITS}d}")), arch))
    return out
