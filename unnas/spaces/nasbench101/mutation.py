"""The NAS-Bench-101 module space as black-box strategies see it: sample, mutate, encode, decisions.

A candidate is a 7-vertex upper-triangular matrix plus 5 interior ops; it is kept only when
:class:`ModelSpec` accepts it (input reaches output, ≤ 7 vertices and ≤ 9 edges after pruning).
Mutation flips one edge or changes one op and re-draws until the spec is valid and its pruned
hash differs from the parent's, so it never returns the same module.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .code import NB101Code
from .spec import AVAILABLE_OPS, INPUT, MAX_VERTICES, OUTPUT, ModelSpec, SpecError

V = MAX_VERTICES
EDGES = [(i, j) for i in range(V) for j in range(i + 1, V)]
MAX_TRIES = 10_000


class NB101Space:
    space = "nasbench101"
    arch_file = "spec.json"

    def __init__(self):
        self.code = NB101Code()

    @staticmethod
    def _spec(matrix: np.ndarray, ops: Sequence[str]) -> ModelSpec | None:
        try:
            return ModelSpec(matrix, [INPUT, *ops, OUTPUT])
        except SpecError:
            return None

    def sample(self, rng: np.random.Generator) -> ModelSpec:
        for _ in range(MAX_TRIES):
            matrix = np.triu(rng.integers(0, 2, size=(V, V)), k=1)
            ops = [AVAILABLE_OPS[int(i)] for i in rng.integers(len(AVAILABLE_OPS), size=V - 2)]
            spec = self._spec(matrix, ops)
            if spec is not None:
                return spec
        raise RuntimeError("no valid NAS-Bench-101 spec in 10000 draws")  # probability ~0

    def mutate(self, spec: ModelSpec, rng: np.random.Generator) -> ModelSpec:
        """Flip one edge or change one interior op of the unpruned spec; re-draw until valid and new."""
        base, base_ops = np.array(spec.original_matrix), list(spec.original_ops[1:-1])
        if base.shape[0] < V:  # a pruned spec: pad back to 7 vertices (extra ones unconnected)
            n = base.shape[0]
            padded = np.zeros((V, V), dtype=base.dtype)
            padded[: n - 1, : n - 1] = base[: n - 1, : n - 1]
            padded[: n - 1, V - 1] = base[: n - 1, n - 1]
            base, base_ops = padded, base_ops + [AVAILABLE_OPS[0]] * (V - n)
        parent = spec.module_hash()
        for _ in range(MAX_TRIES):
            matrix, ops = base.copy(), list(base_ops)
            if rng.random() < 0.5:
                i, j = EDGES[int(rng.integers(len(EDGES)))]
                matrix[i, j] = 1 - matrix[i, j]
            else:
                v = int(rng.integers(V - 2))
                ops[v] = str(rng.choice([o for o in AVAILABLE_OPS if o != ops[v]]))
            child = self._spec(matrix, ops)
            if child is not None and child.module_hash() != parent:
                return child
        raise RuntimeError("no valid mutation in 10000 tries")  # cannot happen: some edge flip always is

    def encode(self, spec: ModelSpec) -> np.ndarray:
        return self.code.encode(spec)

    def key(self, spec: ModelSpec) -> str:
        return spec.module_hash()

    def to_json(self, spec: ModelSpec) -> dict:
        return spec.to_dict()

    def from_json(self, obj: Any) -> ModelSpec:
        return ModelSpec.from_dict(obj)

    def valid(self, spec: ModelSpec) -> bool:
        return self._spec(spec.original_matrix, spec.original_ops[1:-1]) is not None

    # ------------------------------------------------------------------ sequential decisions (PPO)
    def decisions(self) -> list[int]:
        """21 edge bits, then the 5 interior ops."""
        return [2] * len(EDGES) + [len(AVAILABLE_OPS)] * (V - 2)

    def from_decisions(self, choices: Sequence[int]) -> ModelSpec | None:
        """The spec, or None when the choices break a rule (the strategy scores that as the worst)."""
        matrix = np.zeros((V, V), dtype=np.int64)
        for (i, j), bit in zip(EDGES, choices[: len(EDGES)]):
            matrix[i, j] = int(bit)
        return self._spec(matrix, [AVAILABLE_OPS[int(c)] for c in choices[len(EDGES):]])
