"""The NAS-Bench-MR space as black-box strategies see it: sample, mutate, encode, decisions.

Every combination of allowed values (:data:`~.arch.RANGES`) is a buildable network, so a draw
takes each of the 27 values uniformly and independently from its range, and a mutation moves one
value, chosen uniformly, to another allowed value chosen uniformly: always valid, always different.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .arch import RANGES, SPACE, MRArch
from .code import MRCode


class MRSpace:
    space = SPACE
    arch_file = MRCode.arch_file

    def __init__(self):
        self.code = MRCode()

    # ------------------------------------------------------------------ black-box interface
    def sample(self, rng: np.random.Generator) -> MRArch:
        return MRArch([r[int(rng.integers(len(r)))] for r in RANGES])

    def mutate(self, arch: MRArch, rng: np.random.Generator) -> MRArch:
        """Change one value (position chosen uniformly) to another allowed value (uniformly)."""
        values = list(arch.code)
        k = int(rng.integers(len(values)))
        others = [v for v in RANGES[k] if v != values[k]]
        values[k] = others[int(rng.integers(len(others)))]
        return MRArch(values)

    def encode(self, arch: MRArch) -> np.ndarray:
        return self.code.encode(arch)

    def key(self, arch: MRArch) -> str:
        return str(list(arch.code))

    def to_json(self, arch: MRArch) -> dict:
        return arch.to_json()

    def from_json(self, obj: Any) -> MRArch:
        return MRArch.from_json(obj)

    def valid(self, arch: MRArch) -> bool:
        return all(v in r for v, r in zip(arch.code, RANGES))

    # ------------------------------------------------------------------ sequential decisions (PPO)
    def decisions(self) -> list[int]:
        """One choice per code position, over its allowed values."""
        return [len(r) for r in RANGES]

    def from_decisions(self, choices: Sequence[int]) -> MRArch:
        return MRArch([r[int(c)] for r, c in zip(RANGES, choices)])
