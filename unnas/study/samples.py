"""The paper's sampled architectures (shipped as package data): 500 DARTS and 500 NAS-Bench-101.

The same 500 ids per space were trained for every task and dataset in the paper, so a study
that reproduces it starts from these. DARTS entries become :class:`Genotype`; NAS-Bench-101
entries stay ``{"matrix": V×V 0/1 upper-triangular, "ops": V labels}`` (the NB101 space module
owns that type).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from unnas.errors import ConfigError, DataError, GenotypeError
from unnas.spaces.darts.genotype import Genotype

FILES = {"darts": "darts500.json", "nasbench101": "nasbench101_500.json"}
ALIASES = {"nas_bench": "nasbench101", "nb101": "nasbench101"}


def _read(space: str) -> list[dict]:
    name = FILES[space]
    try:
        text = resources.files("unnas.study").joinpath("paper_samples", name).read_text()
    except FileNotFoundError:
        raise DataError(f"package data unnas/study/paper_samples/{name} is missing; reinstall unnas") from None
    return json.loads(text)["archs"]


def _nb101_spec(arch: dict) -> dict:
    matrix, ops = arch.get("matrix"), arch.get("ops")
    if not isinstance(matrix, list) or not isinstance(ops, list) or len(matrix) != len(ops):
        raise DataError(f"paper sample {arch.get('id')}: NAS-Bench-101 entry needs a V×V matrix and V ops")
    return {"matrix": [[int(v) for v in row] for row in matrix], "ops": [str(o) for o in ops]}


def load_paper_samples(space: str) -> list[tuple[str, Any]]:
    """``[(id, Genotype)]`` for ``space="darts"``, ``[(id, {"matrix", "ops"})]`` for ``"nasbench101"``."""
    space = ALIASES.get(space, space)
    if space not in FILES:
        raise ConfigError(f"no paper samples for space {space!r}; choose one of: {', '.join(FILES)}")
    out = []
    for arch in _read(space):
        if space == "darts":
            try:
                out.append((arch["id"], Genotype.from_obj(arch)))
            except GenotypeError as exc:
                raise DataError(f"paper sample {arch['id']}: {exc}") from None
        else:
            out.append((arch["id"], _nb101_spec(arch)))
    return out
