"""Seeded samples of NAS-Bench-201 cells for studies, and their sample files.

Draw i of seed s is the i-th uniform draw (:meth:`~.mutation.NB201Space.sample`) of
``numpy.random.default_rng(s)``, with id ``f"{i:05d}"``: a larger ``count`` keeps every earlier
draw and id. Draws may repeat (it is a draw with replacement from 15,625 cells).

A sample file is ``{"space": "nasbench201", "archs": [{"id": "00000", "arch": "<string>"}, ...]}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unnas.atomic import atomic_write_json
from unnas.errors import DataError, GenotypeError
from unnas.spaces.base import read_json

from .arch import SPACE, NB201Arch
from .mutation import NB201Space

ID_DIGITS = 5


def sample_architectures(count: int, seed: int = 0, connected_only: bool = False) -> list[tuple[str, NB201Arch]]:
    """``[(id, arch)]``: the first ``count`` uniform draws of ``seed``."""
    rng, space = np.random.default_rng(seed), NB201Space(connected_only)
    return [(f"{i:0{ID_DIGITS}d}", space.sample(rng)) for i in range(count)]


def save_samples(path: str | Path, samples: list[tuple[str, NB201Arch]], **meta) -> Path:
    return atomic_write_json(path, {"space": SPACE, **meta,
                                    "archs": [{"id": i, "arch": str(a)} for i, a in samples]})


def load_samples(path: str | Path) -> list[tuple[str, NB201Arch]]:
    """``[(id, arch)]`` from a sample file written by :func:`save_samples` (ids default to the position)."""
    data = read_json(path, "sample list", DataError)
    archs = data.get("archs") if isinstance(data, dict) and data.get("space", SPACE) == SPACE else None
    if not isinstance(archs, list):
        raise DataError(f"{path}: expected {{\"space\": \"{SPACE}\", "
                        "\"archs\": [{\"id\": ..., \"arch\": ...}, ...]}")
    out = []
    for i, a in enumerate(archs):
        where = f"{path}: archs[{i}]"
        if not isinstance(a, dict):
            raise GenotypeError(f"{where}: expected {{\"id\": ..., \"arch\": \"<string>\"}}, got {a!r}")
        arch = NB201Arch.from_json({k: a[k] for k in ("arch",) if k in a}, where)
        out.append((str(a.get("id", f"{i:0{ID_DIGITS}d}")), arch))
    return out
