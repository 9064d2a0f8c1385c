"""Decile-stratified sampling of NAS-Bench-101 architectures (the paper's 500-architecture study).

All architectures are ranked by their recorded accuracy and ``per_decile`` are drawn, without
replacement and seeded, from each tenth of the ranking, so the sample spans the whole range
of quality instead of crowding where most architectures lie.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from unnas.atomic import atomic_write_json
from unnas.errors import DataError
from unnas.spaces.base import read_json

from .records import NB101Records
from .spec import ModelSpec, SpecError


@dataclass(frozen=True)
class Sample:
    """One sampled architecture. ``accuracy``/``decile`` are None for lists without them (the paper's)."""

    id: str
    module_hash: str
    spec: ModelSpec
    accuracy: float | None = None
    decile: int | None = None

    def to_dict(self) -> dict:
        out = {"id": self.id, "module_hash": self.module_hash, **self.spec.to_dict()}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy
        if self.decile is not None:
            out["decile"] = self.decile
        return out


def stratify(scores: Mapping[str, float], per_decile: int = 50, seed: int = 0,
             bins: int = 10) -> list[tuple[str, float, int]]:
    """Draw ``per_decile`` keys from each of ``bins`` equal slices of the ranking by score.

    Ties are broken by key so the result depends only on the scores and the seed. Returns
    ``(key, score, bin)`` with bin 0 the lowest scores.
    """
    if per_decile < 1 or bins < 1:
        raise DataError(f"decile sampling: per_decile and bins must be positive, got {per_decile} and {bins}")
    if len(scores) < per_decile * bins:
        raise DataError(f"decile sampling: {len(scores)} architectures cannot fill {bins} bins of {per_decile}; "
                        "lower per_decile")
    ranked = sorted(scores, key=lambda k: (scores[k], k))
    rng = np.random.default_rng(seed)
    out = []
    for b, chunk in enumerate(np.array_split(np.arange(len(ranked)), bins)):
        for i in sorted(rng.choice(chunk, size=per_decile, replace=False).tolist()):
            out.append((ranked[i], float(scores[ranked[i]]), b))
    return out


def sample_deciles(records: NB101Records, per_decile: int = 50, seed: int = 0, epochs: int = 108,
                   metric: str = "test") -> list[Sample]:
    """Decile-stratified sample of a records file, ranked by mean final ``metric`` accuracy at ``epochs``.

    ``id`` is the module's 0-based position (6 digits) in the file's order of first appearance.
    """
    scores = records.mean_accuracies(epochs=epochs, metric=metric)
    position = {h: i for i, h in enumerate(records.hashes())}
    return [Sample(f"{position[h]:06d}", h, records.spec(h), acc, b)
            for h, acc, b in stratify(scores, per_decile, seed)]


def save_samples(path: str | Path, samples: list[Sample], **meta) -> Path:
    """Write ``{"space": "nasbench101", **meta, "archs": [...]}`` (the layout of the paper's sample lists)."""
    return atomic_write_json(path, {"space": "nasbench101", **meta, "archs": [s.to_dict() for s in samples]})


def load_samples(path: str | Path) -> list[Sample]:
    """Read a sample list written by :func:`save_samples` or the paper's ``nasbench101_500.json``."""
    data = read_json(path, "sample list", DataError)
    archs = data.get("archs") if isinstance(data, dict) else data
    if not isinstance(archs, list):
        raise DataError(f"{path}: expected {{\"archs\": [...]}} or a list of architectures")
    out = []
    for i, a in enumerate(archs):
        where = f"{path}: archs[{i}]"
        spec = ModelSpec.from_dict(a, where=where)
        h = spec.module_hash()
        if a.get("module_hash", h) != h:
            raise SpecError(f"{where}: module_hash {a['module_hash']} does not match the spec's hash {h}; fix or drop it")
        acc, dec = a.get("accuracy"), a.get("decile")
        out.append(Sample(str(a.get("id", f"{i:06d}")), h, spec,
                          None if acc is None else float(acc), None if dec is None else int(dec)))
    return out
