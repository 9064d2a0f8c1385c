"""Helpers every space uses: reading a JSON file with a one-line error, and checking a code vector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from unnas.errors import GenotypeError


def read_json(path: str | Path, what: str, error: type[Exception]) -> Any:
    """Parse a JSON file, turning a missing or malformed file into a one-line ``error``."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: {what} is not valid JSON ({str(e).splitlines()[0]})") from None


def check_code(code, dim: int, what: str) -> np.ndarray:
    """``code`` as a float64 vector of ``dim`` finite values, or a one-line GenotypeError naming ``what``."""
    c = np.asarray(code, dtype=np.float64)
    if c.shape != (dim,):
        raise GenotypeError(f"{what} has {dim} values, got shape {list(c.shape)}")
    if not np.isfinite(c).all():
        raise GenotypeError(f"{what} holds NaN or Inf values; check the code (a propagation that diverged: lower lr)")
    return c


def check_one_hot(code: np.ndarray, groups) -> None:
    """Every one-hot group of a code (``(name, start, stop, kind)``) holds exactly one 1 and zeros, or a one-line
    GenotypeError: a continuous code is projected, never decoded."""
    for name, start, stop, _kind in groups:
        part = code[start:stop]
        if not (np.isin(part, (0.0, 1.0)).all() and part.sum() == 1):
            raise GenotypeError(f"code group {name} is not one-hot ({part.round(3).tolist()}); "
                                "project a continuous code instead of decoding it")
