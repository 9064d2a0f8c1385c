"""NAS-Bench-101 architecture codes: adjacency bits plus a one-hot op per interior vertex.

Layout (7 vertices): the 21 upper-triangular adjacency bits row by row ([0][1], [0][2], …,
[5][6]), then for each interior vertex 1..5 a one-hot op over :data:`AVAILABLE_OPS` (3 values):
36 values. A spec with fewer vertices keeps its vertices in order and puts its output at vertex 6;
the missing vertices have no edges and an all-zero op group.

:meth:`NB101Code.project` turns any real vector into a valid spec: every bit above 0.5 is an edge,
every vertex takes its argmax op, then the **validity repair**:
1. while the input does not reach the output, add the strongest absent edge (largest code value;
   the direct input→output edge ends this at the latest);
2. while the pruned graph (vertices on an input→output path) has more than 9 edges, drop its
   weakest edge whose removal keeps every one of those vertices on a path, or if there is none
   the weakest whose removal keeps the input connected to the output (one always exists: a
   single input→output path has at most 6 edges).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unnas.errors import GenotypeError
from unnas.spaces.base import check_code

from .spec import AVAILABLE_OPS, INPUT, MAX_EDGES, MAX_VERTICES, OUTPUT, ModelSpec, _reachable, load_spec

V = MAX_VERTICES
EDGES = [(i, j) for i in range(V) for j in range(i + 1, V)]


def _connected(matrix: np.ndarray) -> bool:
    return V - 1 in _reachable(matrix, 0, True)


def _pruned_edges(matrix: np.ndarray) -> list[tuple[int, int]]:
    keep = _on_paths(matrix)
    return [(i, j) for i, j in EDGES if matrix[i, j] and i in keep and j in keep]


def _on_paths(matrix: np.ndarray) -> set[int]:
    return _reachable(matrix, 0, True) & _reachable(matrix, V - 1, False)


def _drop_weakest(matrix: np.ndarray, edges: list[tuple[int, int]], weight: dict) -> np.ndarray:
    """Without the weakest edge that keeps every vertex on a path, else the weakest that keeps input→output."""
    vertices = _on_paths(matrix)
    ranked = sorted(edges, key=lambda e: (weight[e], e))
    for keep_vertices in (True, False):
        for e in ranked:
            trial = matrix.copy()
            trial[e] = 0
            if _connected(trial) and (not keep_vertices or _on_paths(trial) == vertices):
                return trial
    raise AssertionError("unreachable: a single input→output path always remains")


class NB101Code:
    """encode / decode / project between :class:`ModelSpec` and its code."""

    space = "nasbench101"
    arch_file = "spec.json"

    def __init__(self):
        self.groups: list[tuple[str, int, int, str]] = [(f"edge{i}-{j}", k, k + 1, "bit")
                                                        for k, (i, j) in enumerate(EDGES)]
        start = len(EDGES)
        for v in range(1, V - 1):
            self.groups.append((f"v{v}.op", start, start + len(AVAILABLE_OPS), "onehot"))
            start += len(AVAILABLE_OPS)
        self.dim = start

    def labels(self) -> list[str]:
        out = [name for name, *_ in self.groups if name.startswith("edge")]
        return out + [f"v{v}={op}" for v in range(1, V - 1) for op in AVAILABLE_OPS]

    # ------------------------------------------------------------------ spec -> code
    def encode(self, spec: Any) -> np.ndarray:
        s = spec if isinstance(spec, ModelSpec) else ModelSpec.from_dict(spec)
        n = s.num_vertices
        place = list(range(n - 1)) + [V - 1]  # vertex -> position in the 7-vertex code
        code = np.zeros(self.dim, dtype=np.float32)
        for a, b in zip(*np.nonzero(s.matrix)):
            code[EDGES.index((place[a], place[b]))] = 1.0
        for v in range(1, n - 1):
            code[len(EDGES) + (place[v] - 1) * len(AVAILABLE_OPS) + AVAILABLE_OPS.index(s.ops[v])] = 1.0
        return code

    # ------------------------------------------------------------------ code -> spec
    def _check(self, code: Any) -> np.ndarray:
        return check_code(code, self.dim, "a NAS-Bench-101 code")

    def _op_block(self, c: np.ndarray) -> np.ndarray:
        return c[len(EDGES):].reshape(V - 2, len(AVAILABLE_OPS))

    def _spec(self, matrix: np.ndarray, ops: list[str | None]) -> ModelSpec:
        present = [v for v in range(V) if ops[v] is not None or matrix[v].any() or matrix[:, v].any()]
        return ModelSpec(matrix[np.ix_(present, present)], [ops[v] for v in present], where="code")

    def decode(self, code: Any) -> ModelSpec:
        """The spec of an exact code (0/1 bits, one-hot or all-zero op groups; a vertex with edges needs an op)."""
        c = self._check(code)
        if not np.isin(c, (0.0, 1.0)).all():
            raise GenotypeError("code values must be 0 or 1 to decode; project a continuous code instead")
        matrix = np.zeros((V, V), dtype=np.int64)
        for k, (i, j) in enumerate(EDGES):
            matrix[i, j] = int(c[k])
        ops: list[str | None] = [INPUT] + [None] * (V - 2) + [OUTPUT]
        for v, row in enumerate(self._op_block(c), start=1):
            if row.sum() > 1:
                raise GenotypeError(f"code: vertex {v} has {int(row.sum())} ops; give it one")
            if row.sum() == 1:
                ops[v] = AVAILABLE_OPS[int(np.argmax(row))]
            elif matrix[v].any() or matrix[:, v].any():
                raise GenotypeError(f"code: vertex {v} has edges but no op; give it one")
        return self._spec(matrix, ops)

    def project(self, code: Any) -> ModelSpec:
        """The valid spec nearest a real vector: threshold 0.5, argmax ops, then the validity repair."""
        c = self._check(code)
        weight = {e: c[k] for k, e in enumerate(EDGES)}
        matrix = np.zeros((V, V), dtype=np.int64)
        for (i, j), w in weight.items():
            matrix[i, j] = int(w > 0.5)
        by_strength = sorted(EDGES, key=lambda e: (-weight[e], e))
        for e in by_strength:  # repair 1: connect the input to the output
            if _connected(matrix):
                break
            matrix[e] = 1
        while len(edges := _pruned_edges(matrix)) > MAX_EDGES:  # repair 2: at most 9 edges
            matrix = _drop_weakest(matrix, edges, weight)
        ops = [INPUT] + [AVAILABLE_OPS[int(np.argmax(row))] for row in self._op_block(c)] + [OUTPUT]
        return ModelSpec(matrix, ops, where="projected code")

    # ------------------------------------------------------------------ defaults and files
    def default(self) -> ModelSpec:
        """The start of a propagation without one given: input → 5 × conv3x3 → output (a chain)."""
        matrix = np.eye(V, k=1, dtype=np.int64)
        return ModelSpec(matrix, [INPUT] + [AVAILABLE_OPS[0]] * (V - 2) + [OUTPUT])

    def load(self, spec: Any) -> ModelSpec:
        if isinstance(spec, ModelSpec):
            return spec
        if isinstance(spec, dict):
            return ModelSpec.from_dict(spec)
        return load_spec(spec)

    def to_json(self, spec: ModelSpec) -> dict:
        return spec.to_dict()

    def describe(self, spec: ModelSpec) -> str:
        return f"{spec.num_vertices} vertices, {spec.num_edges} edges, ops {list(spec.ops[1:-1])}: {spec.to_dict()['matrix']}"
