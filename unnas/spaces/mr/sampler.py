"""Seeded samples of NAS-Bench-MR architectures for studies, and their sample files.

Draw i of seed s is the i-th uniform draw (:meth:`~.mutation.MRSpace.sample`) of
``numpy.random.default_rng(s)``, with id ``f"{i:05d}"``: a larger ``count`` keeps every earlier
draw and id, so a study can grow without changing the architectures it already trained.

A sample file is ``{"space": "mr", "archs": [{"id": "00000", "code": [27 integers]}, ...]}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unnas.atomic import atomic_write_json
from unnas.errors import DataError, GenotypeError
from unnas.spaces.base import read_json

from .arch import SPACE, MRArch
from .mutation import MRSpace

ID_DIGITS = 5


def sample_architectures(count: int, seed: int = 0) -> list[tuple[str, MRArch]]:
    """``[(id, arch)]``: the first ``count`` uniform draws of ``seed``."""
    rng, space = np.random.default_rng(seed), MRSpace()
    return [(f"{i:0{ID_DIGITS}d}", space.sample(rng)) for i in range(count)]


def save_samples(path: str | Path, samples: list[tuple[str, MRArch]], **meta) -> Path:
    return atomic_write_json(path, {"space": SPACE, **meta,
                                    "archs": [{"id": i, "code": list(a.code)} for i, a in samples]})


def load_samples(path: str | Path) -> list[tuple[str, MRArch]]:
    """``[(id, arch)]`` from a sample file written by :func:`save_samples` (ids default to the position)."""
    data = read_json(path, "sample list", DataError)
    archs = data.get("archs") if isinstance(data, dict) and data.get("space", SPACE) == SPACE else None
    if not isinstance(archs, list):
        raise DataError(f"{path}: expected {{\"space\": \"mr\", \"archs\": [{{\"id\": ..., \"code\": [...]}}, ...]}}")
    out = []
    for i, a in enumerate(archs):
        where = f"{path}: archs[{i}]"
        if not isinstance(a, dict):
            raise GenotypeError(f"{where}: expected {{\"id\": ..., \"code\": [...]}}, got {a!r}")
        out.append((str(a.get("id", f"{i:0{ID_DIGITS}d}")), MRArch.from_json(a, where)))
    return out
