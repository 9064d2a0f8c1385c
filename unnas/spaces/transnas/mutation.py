"""The TransNAS-Bench-101 spaces as black-box strategies see them: sample, mutate, encode, decisions.

- **Draws** are uniform over each space's enumerated list (4,096 micro cells; 3,256 macro skeletons).
- **Micro mutation**: one edge (uniform) takes another op digit (uniform among the 3 others): every
  cell is in the space, so always valid and always different.
- **Macro mutation** (as TransNAS's REA and NASLib's ``mutate``): add, delete or change one module,
  keeping the rules. The kind is drawn uniformly among those with at least one valid outcome (add
  only below 6 modules, delete only above 4, change always has one), then one of that kind's distinct
  valid outcomes, uniformly: always valid, always different.
- **Decisions** (PPO): micro, 6 edges × 4 op digits. Macro, 6 positions × 5 choices, 0 = no module
  and 1–4 the module digit; the skeleton is the non-zero choices in order (NASLib's reading of its
  zero-padded form, so a zero in the middle is skipped) and :meth:`TransNASMacroSpace.from_decisions`
  gives None when it breaks the rules (the strategy scores that as a failed architecture).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .arch import (
    MACRO,
    MAX_MODULES,
    MICRO,
    MICRO_EDGES,
    MICRO_OPS,
    MacroArch,
    MicroArch,
    macro_archs,
    macro_rule_error,
    micro_archs,
)
from .code import MacroCode, MicroCode

MUTATIONS = ("add", "delete", "change")


def macro_neighbours(arch: MacroArch) -> dict[str, list[MacroArch]]:
    """Every valid skeleton one add / delete / change away, by kind, each distinct and different from ``arch``."""
    m = arch.modules
    out: dict[str, list[tuple[int, ...]]] = {
        "add": [m[:k] + (v,) + m[k:] for k in range(len(m) + 1) for v in range(1, 5)],
        "delete": [m[:k] + m[k + 1:] for k in range(len(m))],
        "change": [m[:k] + (v,) + m[k + 1:] for k in range(len(m)) for v in range(1, 5) if v != m[k]],
    }
    return {kind: [MacroArch(d) for d in sorted(set(cands)) if d != m and macro_rule_error(d) is None]
            for kind, cands in out.items()}


class _Base:
    arch_file = "arch.json"
    code: Any
    _cls: type

    def _all(self) -> tuple:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator):
        archs = self._all()
        return archs[int(rng.integers(len(archs)))]

    def encode(self, arch) -> np.ndarray:
        return self.code.encode(arch)

    def key(self, arch) -> str:
        return str(arch)

    def to_json(self, arch) -> dict:
        return arch.to_json()

    def from_json(self, obj: Any):
        return self._cls.from_json(obj)

    def valid(self, arch) -> bool:
        return isinstance(arch, self._cls)  # the constructor already enforces every rule


class TransNASMicroSpace(_Base):
    space = MICRO
    _cls = MicroArch

    def __init__(self):
        self.code = MicroCode()

    def _all(self) -> tuple[MicroArch, ...]:
        return micro_archs()

    def mutate(self, arch: MicroArch, rng: np.random.Generator) -> MicroArch:
        """One edge (uniform) takes another op digit (uniform among the other 3)."""
        digits = list(arch.digits)
        k = int(rng.integers(len(digits)))
        others = [v for v in range(len(MICRO_OPS)) if v != digits[k]]
        digits[k] = others[int(rng.integers(len(others)))]
        return MicroArch(tuple(digits))

    def decisions(self) -> list[int]:
        """One op digit per edge, in the string order."""
        return [len(MICRO_OPS)] * len(MICRO_EDGES)

    def from_decisions(self, choices: Sequence[int]) -> MicroArch:
        return MicroArch(tuple(int(c) for c in choices))


class TransNASMacroSpace(_Base):
    space = MACRO
    _cls = MacroArch

    def __init__(self):
        self.code = MacroCode()

    def _all(self) -> tuple[MacroArch, ...]:
        return macro_archs()

    def mutate(self, arch: MacroArch, rng: np.random.Generator) -> MacroArch:
        """Add, delete or change one module (see the module docstring)."""
        options = macro_neighbours(arch)
        kinds = [k for k in MUTATIONS if options[k]]
        kind = kinds[int(rng.integers(len(kinds)))]
        return options[kind][int(rng.integers(len(options[kind])))]

    def decisions(self) -> list[int]:
        """6 positions × (0 = no module, 1–4 = module digit)."""
        return [5] * MAX_MODULES

    def from_decisions(self, choices: Sequence[int]) -> MacroArch | None:
        """The skeleton of the non-zero choices in order, or None when it breaks the space's rules."""
        digits = tuple(int(c) for c in choices if int(c) != 0)
        return MacroArch(digits) if macro_rule_error(digits) is None else None
