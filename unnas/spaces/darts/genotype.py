"""DARTS genotypes: one small immutable type, its file formats and its derivation from α.

A genotype lists, for each intermediate node of a cell, two ``(op, input)`` pairs; inputs
0 and 1 are the cell's two inputs (c_{k-2}, c_{k-1}) and 2, 3, … earlier nodes. ``concat``
names the states whose channel-concatenation is the cell output.

Accepted spellings: the dict form ``{"normal": [[op, input], …], "normal_concat": […], …}``,
the paper's list form ``[normal, normal_concat, reduce, reduce_concat]``, the repr printed by
the DARTS code (``Genotype(normal=[('sep_conv_3x3', 0), …], …)``) and published names
(``darts_v2``, ``unnas_imagenet_rot``, …: :mod:`.library` holds them as data, registered here).
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import yaml

from unnas.errors import GenotypeError

from .library import PUBLISHED_CELLS
from .ops import ALL_OPS, PRIMITIVES, SHORT_NAMES

Pair = tuple[str, int]


def _as_pairs(cell: Any, what: str) -> tuple[Pair, ...]:
    if not isinstance(cell, (list, tuple)) or not cell:
        raise GenotypeError(f"genotype {what}: expected a non-empty list of [op, input] pairs, got {cell!r}")
    pairs = []
    for item in cell:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise GenotypeError(f"genotype {what}: each entry must be an [op, input] pair, got {item!r}")
        op, inp = item
        if not isinstance(op, str):
            raise GenotypeError(f"genotype {what}: op must be a name, got {op!r}")
        if isinstance(inp, bool) or not isinstance(inp, (int, np.integer)):
            raise GenotypeError(f"genotype {what}: input index must be an integer, got {inp!r}")
        pairs.append((op, int(inp)))
    return tuple(pairs)


def _as_concat(concat: Any, what: str) -> tuple[int, ...]:
    if isinstance(concat, range):
        concat = list(concat)
    if not isinstance(concat, (list, tuple)) or not concat:
        raise GenotypeError(f"genotype {what}: expected a non-empty list of node indices, got {concat!r}")
    if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in concat):
        raise GenotypeError(f"genotype {what}: node indices must be integers, got {concat!r}")
    return tuple(int(c) for c in concat)


@dataclass(frozen=True)
class Genotype:
    """An immutable, validated DARTS genotype."""

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        for kind in ("normal", "reduce"):
            pairs = _as_pairs(getattr(self, kind), kind)
            concat = _as_concat(getattr(self, f"{kind}_concat"), f"{kind}_concat")
            _validate_cell(pairs, concat, kind)
            object.__setattr__(self, kind, pairs)
            object.__setattr__(self, f"{kind}_concat", concat)
        if len(self.normal) != len(self.reduce):
            raise GenotypeError(
                f"genotype: normal cell has {len(self.normal) // 2} nodes but reduce cell has {len(self.reduce) // 2}"
            )

    @property
    def nodes(self) -> int:
        return len(self.normal) // 2

    def cell(self, kind: str) -> tuple[tuple[Pair, ...], tuple[int, ...]]:
        if kind not in ("normal", "reduce"):
            raise ValueError(f"cell kind must be 'normal' or 'reduce', got {kind!r}")
        return getattr(self, kind), getattr(self, f"{kind}_concat")

    # --------------------------------------------------------------- formats
    def to_dict(self) -> dict:
        return {
            "normal": [[op, i] for op, i in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, i] for op, i in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    def to_list(self) -> list:
        """The paper's list form ``[normal, normal_concat, reduce, reduce_concat]``."""
        d = self.to_dict()
        return [d["normal"], d["normal_concat"], d["reduce"], d["reduce_concat"]]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_obj(cls, obj: Any) -> "Genotype":
        """Build from the dict form, the list form, or an existing Genotype."""
        if isinstance(obj, Genotype):
            return obj
        if isinstance(obj, dict):
            if "genotype" in obj and isinstance(obj["genotype"], (dict, list)):
                return cls.from_obj(obj["genotype"])
            missing = [k for k in ("normal", "normal_concat", "reduce", "reduce_concat") if k not in obj]
            if missing:
                raise GenotypeError(f"genotype: missing key(s) {', '.join(missing)}")
            return cls(obj["normal"], obj["normal_concat"], obj["reduce"], obj["reduce_concat"])
        if isinstance(obj, (list, tuple)) and len(obj) == 4:
            return cls(obj[0], obj[1], obj[2], obj[3])
        raise GenotypeError(
            "genotype: expected {normal, normal_concat, reduce, reduce_concat} or the list form "
            f"[normal, normal_concat, reduce, reduce_concat], got {type(obj).__name__}"
        )

    @classmethod
    def from_repr(cls, text: str) -> "Genotype":
        """Parse ``Genotype(normal=[...], normal_concat=..., ...)`` as printed by DARTS code."""
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise GenotypeError(f"genotype: cannot parse {text[:60]!r}: {exc.msg}") from None
        if not (isinstance(tree, ast.Call) and getattr(tree.func, "id", None) == "Genotype"):
            raise GenotypeError(f"genotype: expected Genotype(...), got {text[:60]!r}")
        try:
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in tree.keywords}
        except ValueError:
            raise GenotypeError("genotype: Genotype(...) arguments must be literals") from None
        return cls.from_obj(kwargs)

    def __str__(self) -> str:
        def cell(pairs: Sequence[Pair], concat: Sequence[int]) -> str:
            nodes = []
            for n in range(len(pairs) // 2):
                (o1, i1), (o2, i2) = pairs[2 * n], pairs[2 * n + 1]
                nodes.append(f"n{n + 2}={SHORT_NAMES.get(o1, o1)}({i1})+{SHORT_NAMES.get(o2, o2)}({i2})")
            return "; ".join(nodes) + f"; concat {list(concat)}"

        return f"normal: {cell(self.normal, self.normal_concat)}\nreduce: {cell(self.reduce, self.reduce_concat)}"


def _validate_cell(pairs: tuple[Pair, ...], concat: tuple[int, ...], kind: str) -> None:
    if len(pairs) % 2:
        raise GenotypeError(f"genotype {kind}: needs two [op, input] pairs per node, got {len(pairs)} pairs")
    nodes = len(pairs) // 2
    for idx, (op, inp) in enumerate(pairs):
        node = idx // 2 + 2
        if op not in ALL_OPS:
            raise GenotypeError(f"genotype {kind} node {node}: unknown op {op!r}; known ops: {', '.join(ALL_OPS)}")
        if not 0 <= inp < node:
            raise GenotypeError(
                f"genotype {kind} node {node}: input {inp} is not an earlier state (valid: 0..{node - 1})"
            )
    if len(set(concat)) != len(concat):
        raise GenotypeError(f"genotype {kind}_concat: repeated index in {list(concat)}")
    for c in concat:
        if not 0 <= c < nodes + 2:
            raise GenotypeError(f"genotype {kind}_concat: index {c} is not a state of the cell (valid: 0..{nodes + 1})")


# ------------------------------------------------------------------- named genotypes
_NAMED: dict[str, Genotype] = {}


def register_genotype(name: str, genotype: Genotype | Any) -> Genotype:
    if name in _NAMED:
        raise GenotypeError(f"genotype name {name!r} is already registered")
    g = Genotype.from_obj(genotype)
    _NAMED[name] = g
    return g


def named_genotypes() -> dict[str, Genotype]:
    return dict(_NAMED)


for _name, _cells in PUBLISHED_CELLS.items():
    register_genotype(_name, _cells)


def load_genotype(spec: str | Path | Any) -> Genotype:
    """Resolve a published name, a genotype file (JSON/YAML/repr) or an in-memory object."""
    if isinstance(spec, Genotype):
        return spec
    if not isinstance(spec, (str, Path)):
        return Genotype.from_obj(spec)
    text_spec = str(spec)
    if text_spec in _NAMED:
        return _NAMED[text_spec]
    path = Path(text_spec)
    if not path.exists():
        known = ", ".join(sorted(_NAMED)) or "none registered"
        raise GenotypeError(f"architecture {text_spec!r} is neither a file nor a published name (known: {known})")
    if path.is_dir():
        candidate = path / "genotype.json"
        if not candidate.exists():
            raise GenotypeError(f"{path} is a directory without genotype.json; pass a genotype file or a run directory")
        path = candidate
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise GenotypeError(f"cannot read genotype file {path}: {exc}") from None
    if text.lstrip().startswith("Genotype("):
        return Genotype.from_repr(text)
    try:
        obj = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0]
        raise GenotypeError(f"genotype file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {first}") from None
    try:
        return Genotype.from_obj(obj)
    except GenotypeError as exc:
        raise GenotypeError(f"{path}: {exc}") from None


# ------------------------------------------------------------------- derivation from α
def edge_sources(nodes: int) -> list[int]:
    """Source state of every edge, in the standard edge order (node by node, sources ascending)."""
    return [j for i in range(nodes) for j in range(i + 2)]


def _checked_weights(weights, nodes: int, primitives: Sequence[str]) -> tuple[np.ndarray, list[int]]:
    """(edges × ops) float64 weights after a shape check, and the indices of the non-`none` ops."""
    w = np.asarray(weights, dtype=np.float64)
    n_edges = sum(i + 2 for i in range(nodes))
    if w.shape != (n_edges, len(primitives)):
        raise GenotypeError(f"α has shape {w.shape}, expected ({n_edges}, {len(primitives)})")
    return w, [k for k, name in enumerate(primitives) if name != "none"]


def derive_cell(weights: np.ndarray | Iterable, nodes: int = 4, primitives: Sequence[str] = PRIMITIVES,
                keep: int = 2) -> list[Pair]:
    """The DARTS rule: per node keep the ``keep`` incoming edges whose strongest non-`none` op
    weight is largest, and on each the argmax non-`none` op. Strongest edge first."""
    w, ops = _checked_weights(weights, nodes, primitives)
    pairs: list[Pair] = []
    start = 0
    for i in range(nodes):
        n_in = i + 2
        rows = w[start:start + n_in]
        strength = rows[:, ops].max(axis=1)
        # stable sort: ties keep the lower source first
        chosen = sorted(range(n_in), key=lambda j: (-strength[j], j))[:keep]
        for j in chosen:
            best = ops[int(np.argmax(rows[j, ops]))]
            pairs.append((primitives[best], j))
        start += n_in
    return pairs


def softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def derive_genotype(alpha_normal, alpha_reduce, nodes: int = 4) -> Genotype:
    """Genotype from raw α logits (softmax is applied per edge, as in DARTS)."""
    concat = list(range(2, nodes + 2))
    return Genotype(
        derive_cell(softmax(alpha_normal), nodes), concat,
        derive_cell(softmax(alpha_reduce), nodes), concat,
    )


def sample_cell(weights: np.ndarray | Iterable, nodes: int, rng: np.random.Generator,
                primitives: Sequence[str] = PRIMITIVES, keep: int = 2) -> list[Pair]:
    """SNAS-style stochastic discretisation: per node draw ``keep`` distinct inputs with
    probability ∝ edge strength (strongest non-`none` weight), then each edge's op from its
    non-`none` weights renormalised (`none` is never drawn)."""
    w, ops = _checked_weights(weights, nodes, primitives)
    pairs: list[Pair] = []
    start = 0
    for i in range(nodes):
        rows = w[start:start + i + 2][:, ops]
        strength = rows.max(axis=1)
        chosen = rng.choice(i + 2, size=keep, replace=False, p=strength / strength.sum())
        for j in sorted(int(c) for c in chosen):
            pairs.append((primitives[ops[int(rng.choice(len(ops), p=rows[j] / rows[j].sum()))]], j))
        start += i + 2
    return pairs


def sample_genotypes(alpha_normal, alpha_reduce, nodes: int, n: int, seed: int | Sequence[int]) -> list[Genotype]:
    """``n`` genotypes drawn from softmax(α) with a seeded generator (same seed, same draws)."""
    rng = np.random.default_rng(seed)
    concat = list(range(2, nodes + 2))
    pn, pr = softmax(alpha_normal), softmax(alpha_reduce)
    return [Genotype(sample_cell(pn, nodes, rng), concat, sample_cell(pr, nodes, rng), concat) for _ in range(n)]
