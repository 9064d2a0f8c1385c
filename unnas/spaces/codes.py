"""The architecture code of each space, by name: what predictors and NCP see, so they never branch on the space."""

from __future__ import annotations

import numpy as np

from unnas.errors import ConfigError, GenotypeError

ALIASES = {"nas_bench": "nasbench101", "nb101": "nasbench101"}


def code_space(space: str, nodes: int = 4):
    """The code object (``encode``/``decode``/``project``/``groups``/``dim``) of ``space``."""
    name = ALIASES.get(space, space)
    if name == "darts":
        from .darts.code import DartsCode

        return DartsCode(nodes)
    if name == "nasbench101":
        from .nasbench101.code import NB101Code

        return NB101Code()
    if name == "mr":
        from .mr.code import MRCode

        return MRCode()
    raise ConfigError(f"space {space!r} has no architecture code; spaces with codes: darts, nasbench101, mr")


def check_code(code, dim: int, what: str) -> np.ndarray:
    """``code`` as a float64 vector of ``dim`` finite values, or a one-line GenotypeError naming ``what``."""
    c = np.asarray(code, dtype=np.float64)
    if c.shape != (dim,):
        raise GenotypeError(f"{what} has {dim} values, got shape {list(c.shape)}")
    if not np.isfinite(c).all():
        raise GenotypeError("the code holds NaN or Inf values")
    return c
