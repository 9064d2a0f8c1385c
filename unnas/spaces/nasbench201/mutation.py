"""The NAS-Bench-201 space as black-box strategies see it: sample, mutate, encode, decisions.

Every combination of ops is a cell of the benchmark (including the 341 whose output is not
connected to the input: the benchmark trained them too), so a draw takes each of the 6 edges'
ops uniformly and independently — uniform over all 15,625 cells — and a mutation changes one edge,
chosen uniformly, to another op chosen uniformly: always valid, always different. With
``connected_only=True`` draws and mutations are re-drawn until :func:`~.arch.is_connected` holds.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .arch import NUM_EDGES, OPS, SPACE, NB201Arch, is_connected
from .code import NB201Code

MAX_TRIES = 10_000


class NB201Space:
    space = SPACE
    arch_file = NB201Code.arch_file

    def __init__(self, connected_only: bool = False):
        self.code = NB201Code()
        self.connected_only = connected_only

    # ------------------------------------------------------------------ black-box interface
    def sample(self, rng: np.random.Generator) -> NB201Arch:
        """A uniform draw (over the connected cells with ``connected_only``)."""
        for _ in range(MAX_TRIES):
            arch = NB201Arch(tuple(OPS[int(i)] for i in rng.integers(len(OPS), size=NUM_EDGES)))
            if self.valid(arch):
                return arch
        raise RuntimeError("no connected NAS-Bench-201 cell in 10000 draws")  # probability ~0 (98% are)

    def mutate(self, arch: NB201Arch, rng: np.random.Generator) -> NB201Arch:
        """One edge (chosen uniformly) takes another op (chosen uniformly among the 4 others)."""
        for _ in range(MAX_TRIES):
            ops = list(arch.ops)
            k = int(rng.integers(NUM_EDGES))
            others = [op for op in OPS if op != ops[k]]
            ops[k] = others[int(rng.integers(len(others)))]
            child = NB201Arch(tuple(ops))
            if self.valid(child):
                return child
        raise RuntimeError("no connected mutation in 10000 tries")  # cannot happen: conv on e(3←0) always is

    def encode(self, arch: NB201Arch) -> np.ndarray:
        return self.code.encode(arch)

    def key(self, arch: NB201Arch) -> str:
        return str(arch)

    def to_json(self, arch: NB201Arch) -> dict:
        return arch.to_json()

    def from_json(self, obj: Any) -> NB201Arch:
        return NB201Arch.from_json(obj)

    def valid(self, arch: NB201Arch) -> bool:
        return isinstance(arch, NB201Arch) and (not self.connected_only or is_connected(arch))

    # ------------------------------------------------------------------ sequential decisions (PPO)
    def decisions(self) -> list[int]:
        """One op per edge, in the string order, over :data:`~.arch.OPS`."""
        return [len(OPS)] * NUM_EDGES

    def from_decisions(self, choices: Sequence[int]) -> NB201Arch | None:
        """The cell (None when ``connected_only`` and it is not connected: the strategy scores it worst)."""
        arch = NB201Arch(tuple(OPS[int(c)] for c in choices))
        return arch if self.valid(arch) else None
