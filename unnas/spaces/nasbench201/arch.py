"""NAS-Bench-201 cells (Dong & Yang, ICLR 2020; the same as NATS-Bench's topology space "tss").

A cell has 4 nodes: node 0 is the cell input, node j = Σ_{i<j} op_{j←i}(node i), the output is
node 3. Each of the 6 edges carries one of :data:`OPS`, so there are 5^6 = 15,625 cells.

**String form** (the benchmark's): ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` — the three
``+``-separated groups are nodes 1, 2, 3 and ``op~i`` is the op on the edge from node i. So the
6 ops of a :class:`NB201Arch` are kept in that **string order**: e(1←0), e(2←0), e(2←1), e(3←0),
e(3←1), e(3←2) (:data:`EDGES`).

**Index** (the official API's): enumerate the cells with e(1←0) varying slowest and e(3←2)
fastest, each edge over :data:`OPS` in order, then shuffle that list with Python's
``random.seed(88); random.shuffle(...)``; a cell's index is its position in the shuffled list
(:func:`index_of`, :func:`arch_at`). Built once, on first use, with a private
``random.Random(88)`` (the same stream as seeding the global generator, which stays untouched).

**JSON form**: ``{"space": "nasbench201", "arch": "<string>"}``.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from unnas.errors import GenotypeError
from unnas.spaces.base import read_json

SPACE = "nasbench201"
#: The benchmark's op list, in its order (``NAS_BENCH_201`` in the official code).
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: ``(to, from)`` of each edge, in the string order.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES  # 15,625
#: Seed of the official index shuffle.
INDEX_SEED = 88
#: Short op names for pictures and one-line descriptions.
SHORT = {"none": "none", "skip_connect": "skip", "nor_conv_1x1": "conv1x1", "nor_conv_3x3": "conv3x3",
         "avg_pool_3x3": "avgpool"}
FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


def _format(ops: Sequence[str]) -> str:
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


@dataclass(frozen=True)
class NB201Arch:
    """One NAS-Bench-201 cell: 6 op names in the string order (see :data:`EDGES`), each from :data:`OPS`."""

    ops: tuple[str, ...]

    def __post_init__(self):
        ops = self.ops
        if isinstance(ops, (str, bytes)) or not isinstance(ops, (list, tuple)) or len(ops) != NUM_EDGES:
            raise GenotypeError(f"a NAS-Bench-201 cell has {NUM_EDGES} ops (e1<-0, e2<-0, e2<-1, e3<-0, e3<-1, e3<-2),"
                                f" got {ops!r}")
        for (to, frm), op in zip(EDGES, ops):
            if op not in OPS:
                raise GenotypeError(f"NAS-Bench-201 edge {to}<-{frm}: unknown op {op!r}; choose from {', '.join(OPS)}")
        object.__setattr__(self, "ops", tuple(ops))

    # ------------------------------------------------------------------ views
    def op(self, to: int, frm: int) -> str:
        """The op on the edge from node ``frm`` into node ``to``."""
        return self.ops[EDGES.index((to, frm))]

    def node_inputs(self, to: int) -> list[tuple[int, str]]:
        """``[(from, op)]`` of the edges into node ``to`` (1..3)."""
        return [(frm, op) for (t, frm), op in zip(EDGES, self.ops) if t == to]

    @property
    def index(self) -> int:
        """The official API index (see :func:`index_of`)."""
        return index_of(self)

    def is_connected(self) -> bool:
        return is_connected(self)

    # ------------------------------------------------------------------ strings and JSON
    @classmethod
    def parse(cls, text: Any, where: str = "NAS-Bench-201 string") -> "NB201Arch":
        """From the benchmark string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (surrounding blanks ignored)."""
        if not isinstance(text, str):
            raise GenotypeError(f"{where}: expected a string of the form {FORM}, got {text!r}")
        groups = text.strip().split("+")
        if len(groups) != 3:
            raise GenotypeError(f"{where}: {text!r} has {len(groups)} '+'-separated node groups; the form is {FORM}")
        ops = []
        for node, group in enumerate(groups, start=1):
            if len(group) < 2 or group[0] != "|" or group[-1] != "|":
                raise GenotypeError(f"{where}: node {node} group {group!r} must start and end with '|'; "
                                    f"the form is {FORM}")
            tokens = group[1:-1].split("|")
            if len(tokens) != node:
                raise GenotypeError(f"{where}: node {node} has {len(tokens)} inputs in {group!r}, needs {node}; "
                                    f"the form is {FORM}")
            for frm, token in enumerate(tokens):
                op, sep, src = token.rpartition("~")
                if not sep or src != str(frm):
                    raise GenotypeError(f"{where}: node {node} input {token!r} must be op~{frm}; the form is {FORM}")
                if op not in OPS:
                    raise GenotypeError(f"{where}: edge {node}<-{frm}: unknown op {op!r}; choose from {', '.join(OPS)}")
                ops.append(op)
        return cls(tuple(ops))

    def __str__(self) -> str:
        return _format(self.ops)

    def describe(self) -> str:
        """A short one-line form: ``n1=conv3x3(0) n2=… n3=…`` (``none`` inputs left out)."""
        parts = []
        for node in (1, 2, 3):
            terms = [f"{SHORT[op]}({frm})" for frm, op in self.node_inputs(node) if op != "none"]
            parts.append(f"n{node}=" + ("+".join(terms) if terms else "0"))
        return " ".join(parts)

    def to_json(self) -> dict:
        return {"space": SPACE, "arch": str(self)}

    @classmethod
    def from_json(cls, obj: Any, where: str = "NAS-Bench-201 architecture") -> "NB201Arch":
        """From ``{"space": "nasbench201", "arch": "<string>"}`` (``space`` may be left out)."""
        form = '{"space": "nasbench201", "arch": "' + FORM + '"}'
        if not isinstance(obj, dict):
            raise GenotypeError(f"{where}: expected {form}, got {str(obj)[:80]!r}")
        if obj.get("space", SPACE) != SPACE:
            raise GenotypeError(f"{where}: space is {obj['space']!r}, not {SPACE!r}; a NAS-Bench-201 architecture "
                                f"is {form}")
        if "arch" not in obj:
            raise GenotypeError(f"{where}: no \"arch\"; a NAS-Bench-201 architecture is {form}")
        return cls.parse(obj["arch"], where)


# ---------------------------------------------------------------------- enumeration and the official index
def all_archs() -> list[NB201Arch]:
    """All 15,625 cells in enumeration order: e(1←0) slowest … e(3←2) fastest, each over :data:`OPS`."""
    return [NB201Arch(ops) for ops in itertools.product(OPS, repeat=NUM_EDGES)]


_INDEX: tuple[list[str], dict[str, int]] | None = None


def _index_table() -> tuple[list[str], dict[str, int]]:
    global _INDEX
    if _INDEX is None:
        order = [_format(ops) for ops in itertools.product(OPS, repeat=NUM_EDGES)]
        random.Random(INDEX_SEED).shuffle(order)  # == random.seed(88); random.shuffle(order), without the global RNG
        _INDEX = (order, {s: i for i, s in enumerate(order)})
    return _INDEX


def arch_at(index: int) -> NB201Arch:
    """The cell at an official API index (0 … 15,624)."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < NUM_ARCHS:
        raise GenotypeError(f"NAS-Bench-201 index {index!r} is not an integer in [0, {NUM_ARCHS - 1}]")
    return NB201Arch.parse(_index_table()[0][index])


def index_of(arch: Any) -> int:
    """The official API index of a cell (an :class:`NB201Arch` or its string)."""
    return _index_table()[1][str(arch if isinstance(arch, NB201Arch) else NB201Arch.parse(arch))]


def is_connected(arch: NB201Arch) -> bool:
    """Whether some path input → output uses only non-``none`` edges (the benchmark's validity rule;
    15,284 of the 15,625 cells are connected)."""
    reach = {0}
    for (to, frm), op in zip(EDGES, arch.ops):  # edges come in order of their target node
        if op != "none" and frm in reach:
            reach.add(to)
    return 3 in reach


def iter_connected() -> Iterator[NB201Arch]:
    return (a for a in all_archs() if is_connected(a))


# ---------------------------------------------------------------------- loading
def is_nb201_json(obj: Any) -> bool:
    """Whether a parsed JSON value claims to be a NAS-Bench-201 architecture (``"space": "nasbench201"``)."""
    return isinstance(obj, dict) and obj.get("space") == SPACE


def load_arch(spec: Any) -> NB201Arch:
    """An :class:`NB201Arch` from itself, its string, an official index (an int, or a string of digits),
    its JSON form ``{"space": "nasbench201", "arch": ...}``, or the path of a JSON file holding that form."""
    if isinstance(spec, NB201Arch):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return arch_at(spec)
    if isinstance(spec, dict):
        return NB201Arch.from_json(spec)
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("|"):
            return NB201Arch.parse(text)
        if text.isdigit():
            return arch_at(int(text))
    if isinstance(spec, (str, Path)):
        return NB201Arch.from_json(read_json(spec, "NAS-Bench-201 architecture file", GenotypeError), where=str(spec))
    raise GenotypeError(f"cannot read a NAS-Bench-201 architecture from {spec!r}; give its string {FORM}, "
                        "an index in [0, 15624], {\"space\": \"nasbench201\", \"arch\": ...} or a JSON file")
