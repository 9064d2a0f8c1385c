"""NAS-Bench-101 module specs: validation, pruning and the benchmark's graph hash.

A spec is an upper-triangular 0/1 adjacency matrix over at most 7 vertices plus one op label
per vertex (``input`` first, ``output`` last). Like the official benchmark, a spec is pruned
of vertices that are not on an input→output path before anything else looks at it, and the
vertex / edge limits apply to the pruned graph. :meth:`ModelSpec.module_hash` reproduces the
benchmark's isomorphism-invariant hash, the key of every record in its data files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from unnas.atomic import atomic_write_json
from unnas.errors import GenotypeError
from unnas.spaces.base import read_json

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
#: Interior ops in the benchmark's canonical order; the order fixes the hash labels 0, 1, 2.
AVAILABLE_OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
MAX_VERTICES = 7
MAX_EDGES = 9


class SpecError(GenotypeError):
    """A NAS-Bench-101 spec that breaks one of the benchmark's rules."""


def _as_matrix(matrix: Any, where: str) -> np.ndarray:
    try:
        arr = np.asarray(matrix)
    except Exception:  # ragged nested lists
        arr = None
    if arr is None or arr.dtype == object or arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise SpecError(f"{where}: the adjacency matrix must be square (a list of equal-length rows), got {matrix!r}")
    if arr.shape[0] < 2:
        raise SpecError(f"{where}: the adjacency matrix needs at least 2 vertices (input and output), got {arr.shape[0]}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number) or not np.isin(arr, (0, 1)).all():
        raise SpecError(f"{where}: adjacency entries must be 0 or 1, got {np.unique(arr).tolist()}")
    arr = arr.astype(np.int64)
    if np.tril(arr).any():
        r, c = map(int, np.argwhere(np.tril(arr))[0])
        raise SpecError(
            f"{where}: the adjacency matrix must be upper-triangular (edges go from lower to higher vertex), "
            f"but entry [{r}][{c}] is 1"
        )
    return arr


def _check_ops(ops: Any, n: int, where: str) -> tuple[str, ...]:
    if not isinstance(ops, (list, tuple)) or not all(isinstance(o, str) for o in ops):
        raise SpecError(f"{where}: ops must be a list of op names, got {ops!r}")
    if len(ops) != n:
        raise SpecError(f"{where}: {len(ops)} ops for a {n}×{n} matrix; give one op per vertex")
    if ops[0] != INPUT:
        raise SpecError(f"{where}: the first op must be {INPUT!r}, got {ops[0]!r}")
    if ops[-1] != OUTPUT:
        raise SpecError(f"{where}: the last op must be {OUTPUT!r}, got {ops[-1]!r}")
    for i, op in enumerate(ops[1:-1], start=1):
        if op not in AVAILABLE_OPS:
            raise SpecError(f"{where}: unknown op {op!r} at vertex {i}; choose from {', '.join(AVAILABLE_OPS)}")
    return tuple(ops)


def _reachable(matrix: np.ndarray, start: int, forward: bool) -> set[int]:
    adj = matrix if forward else matrix.T
    seen, frontier = {start}, [start]
    while frontier:
        v = frontier.pop()
        for w in np.flatnonzero(adj[v]).tolist():
            if w not in seen:
                seen.add(w)
                frontier.append(w)
    return seen


def prune(matrix: np.ndarray, ops: Sequence[str], where: str = "spec") -> tuple[np.ndarray, tuple[str, ...]]:
    """Drop vertices not reachable from the input or not reaching the output (official rule)."""
    n = matrix.shape[0]
    keep = sorted(_reachable(matrix, 0, True) & _reachable(matrix, n - 1, False))
    if 0 not in keep or n - 1 not in keep:
        raise SpecError(f"{where}: the input does not reach the output, so the module computes nothing; add a path input→output")
    return matrix[np.ix_(keep, keep)], tuple(ops[i] for i in keep)


def hash_module(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """The benchmark's graph hash: Weisfeiler-Lehman-style md5 refinement, invariant to relabelling.

    Each vertex starts from md5 of ``str((out_degree, in_degree, label))``; then, once per
    vertex, it becomes md5 of its sorted in-neighbour hashes, ``|``, sorted out-neighbour
    hashes, ``|``, its own hash. The fingerprint is md5 of ``str`` of the sorted hashes.
    """
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    in_deg = matrix.sum(axis=0).tolist()
    out_deg = matrix.sum(axis=1).tolist()
    hashes = [_md5(str((int(o), int(i), int(lab)))) for o, i, lab in zip(out_deg, in_deg, labels)]
    preds = [np.flatnonzero(matrix[:, v]).tolist() for v in range(n)]
    succs = [np.flatnonzero(matrix[v, :]).tolist() for v in range(n)]
    for _ in range(n):
        hashes = [
            _md5("".join(sorted(hashes[w] for w in preds[v])) + "|"
                 + "".join(sorted(hashes[w] for w in succs[v])) + "|" + hashes[v])
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class ModelSpec:
    """An immutable, validated and pruned NAS-Bench-101 module spec.

    ``matrix`` / ``ops`` hold the pruned graph (what the network builds and the hash sees);
    ``original_matrix`` / ``original_ops`` what the caller gave.
    """

    __slots__ = ("_matrix", "_ops", "_original_matrix", "_original_ops", "_hash")

    def __init__(self, matrix: Any, ops: Sequence[str], where: str = "spec"):
        original = _as_matrix(matrix, where)
        original_ops = _check_ops(ops, original.shape[0], where)
        pruned, pruned_ops = prune(original, original_ops, where)
        n, e = pruned.shape[0], int(pruned.sum())
        if n > MAX_VERTICES:
            raise SpecError(f"{where}: {n} vertices after pruning; NAS-Bench-101 allows at most {MAX_VERTICES}, remove vertices")
        if e > MAX_EDGES:
            raise SpecError(f"{where}: {e} edges after pruning; NAS-Bench-101 allows at most {MAX_EDGES}, remove edges")
        for arr in (original, pruned):
            arr.flags.writeable = False
        object.__setattr__(self, "_original_matrix", original)
        object.__setattr__(self, "_original_ops", original_ops)
        object.__setattr__(self, "_matrix", pruned)
        object.__setattr__(self, "_ops", pruned_ops)
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ModelSpec is immutable")

    # Immutable: copies may share it (proxies deep-copy networks that hold one); pickles rebuild it.
    def __deepcopy__(self, memo: dict) -> "ModelSpec":
        return self

    def __reduce__(self):
        return (ModelSpec, (self._original_matrix.tolist(), list(self._original_ops)))

    # ------------------------------------------------------------------ views
    @property
    def matrix(self) -> np.ndarray:
        return self._matrix

    @property
    def ops(self) -> tuple[str, ...]:
        return self._ops

    @property
    def original_matrix(self) -> np.ndarray:
        return self._original_matrix

    @property
    def original_ops(self) -> tuple[str, ...]:
        return self._original_ops

    @property
    def num_vertices(self) -> int:
        return self._matrix.shape[0]

    @property
    def num_edges(self) -> int:
        return int(self._matrix.sum())

    def module_hash(self) -> str:
        """The benchmark's hash of the pruned spec (the key of its data files)."""
        if self._hash is None:
            labels = [-1] + [AVAILABLE_OPS.index(op) for op in self._ops[1:-1]] + [-2]
            object.__setattr__(self, "_hash", hash_module(self._matrix, labels))
        return self._hash

    # ------------------------------------------------------------------ equality / io
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelSpec):
            return NotImplemented
        return self._ops == other._ops and np.array_equal(self._matrix, other._matrix)

    def __hash__(self) -> int:
        return hash((self._ops, self._matrix.tobytes()))

    def __repr__(self) -> str:
        return f"ModelSpec(matrix={self._matrix.tolist()}, ops={list(self._ops)})"

    def to_dict(self) -> dict:
        return {"matrix": self._matrix.tolist(), "ops": list(self._ops)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "spec") -> "ModelSpec":
        if not isinstance(data, dict) or "matrix" not in data or "ops" not in data:
            raise SpecError(f"{where}: expected an object with 'matrix' and 'ops', got {str(data)[:80]!r}")
        return cls(data["matrix"], data["ops"], where=where)

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())


def load_spec(path: str | Path) -> ModelSpec:
    """Read a spec from JSON ``{"matrix": [[...]], "ops": [...]}``."""
    return ModelSpec.from_dict(read_json(path, "spec file", SpecError), where=str(path))
