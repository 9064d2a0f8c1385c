"""DARTS architecture codes: a fixed-length 0/1 vector, the input of NCP predictors.

Layout: the normal cell, then the reduce cell; inside a cell node by node (states 2, 3, …) and,
for each of the node's two ``(op, input)`` pairs in genotype order, a one-hot op over
:data:`PRIMITIVES` (8 values) followed by a one-hot input over the node's earlier states (node k:
k values). With 4 nodes a cell takes 2·(10 + 11 + 12 + 13) = 92 values, a genotype 184.
``concat`` is not coded: every node is concatenated, as in the DARTS space and the paper's samples.

:meth:`DartsCode.decode` wants an exact code; :meth:`DartsCode.project` turns any real vector into
the nearest valid genotype by argmax per group (ties go to the lowest index), which is always valid
because every input group only lists earlier states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unnas.errors import GenotypeError
from unnas.spaces.base import check_code, check_one_hot

from .genotype import Genotype, load_genotype
from .ops import PRIMITIVES

CELLS = ("normal", "reduce")


class DartsCode:
    """encode / decode / project between :class:`Genotype` and its code."""

    space = "darts"
    arch_file = "genotype.json"

    def __init__(self, nodes: int = 4):
        self.nodes = nodes
        #: ``(name, start, stop, kind)`` per group; kind is ``onehot`` for every DARTS group
        self.groups: list[tuple[str, int, int, str]] = []
        start = 0
        for cell in CELLS:
            for node in range(2, nodes + 2):
                for pair in range(2):
                    for what, size in (("op", len(PRIMITIVES)), ("input", node)):
                        self.groups.append((f"{cell}.n{node}.{pair}.{what}", start, start + size, "onehot"))
                        start += size
        self.dim = start

    def labels(self) -> list[str]:
        """One name per code dimension (for pictures)."""
        out = []
        for name, start, stop, _ in self.groups:
            values = PRIMITIVES if name.endswith(".op") else range(stop - start)
            out += [f"{name}={v}" for v in values]
        return out

    # ------------------------------------------------------------------ genotype -> code
    def encode(self, genotype: Any) -> np.ndarray:
        g = Genotype.from_obj(genotype)
        concat = tuple(range(2, self.nodes + 2))
        if g.nodes != self.nodes or g.normal_concat != concat or g.reduce_concat != concat:
            raise GenotypeError(f"genotype has {g.nodes} nodes and concat {list(g.normal_concat)}/"
                                f"{list(g.reduce_concat)}; the DARTS code needs {self.nodes} nodes, all concatenated")
        code = np.zeros(self.dim, dtype=np.float32)
        groups = iter(self.groups)
        for cell in CELLS:
            for op, inp in getattr(g, cell):
                name, start, _, _ = next(groups)
                if op not in PRIMITIVES:
                    raise GenotypeError(f"genotype {cell}: op {op!r} is not in the DARTS space "
                                        f"({', '.join(PRIMITIVES)}); it has no code")
                code[start + PRIMITIVES.index(op)] = 1.0
                _, start, _, _ = next(groups)
                code[start + inp] = 1.0
        return code

    # ------------------------------------------------------------------ code -> genotype
    def _check(self, code: Any) -> np.ndarray:
        return check_code(code, self.dim, f"a DARTS code ({self.nodes} nodes)")

    def _choices(self, code: np.ndarray) -> list[int]:
        return [int(np.argmax(code[start:stop])) for _, start, stop, _ in self.groups]

    def _genotype(self, choices: list[int]) -> Genotype:
        concat = list(range(2, self.nodes + 2))
        per_cell = len(choices) // 2
        cells = []
        for c in range(2):
            part = choices[c * per_cell:(c + 1) * per_cell]
            cells.append([(PRIMITIVES[part[i]], part[i + 1]) for i in range(0, per_cell, 2)])
        return Genotype(cells[0], concat, cells[1], concat)

    def decode(self, code: Any) -> Genotype:
        """The genotype of an exact code (one 1 per group, 0 elsewhere)."""
        c = self._check(code)
        check_one_hot(c, self.groups)
        return self._genotype(self._choices(c))

    def project(self, code: Any) -> Genotype:
        """The valid genotype nearest a real vector: argmax per group."""
        return self._genotype(self._choices(self._check(code)))

    # ------------------------------------------------------------------ defaults and files
    def default(self) -> Genotype:
        """The start of a propagation without one given: node k = sep_conv_3x3(k-2) + sep_conv_3x3(k-1)."""
        concat = list(range(2, self.nodes + 2))
        cell = [("sep_conv_3x3", j) for node in range(2, self.nodes + 2) for j in (node - 2, node - 1)]
        return Genotype(cell, concat, cell, concat)

    def load(self, spec: Any) -> Genotype:
        return load_genotype(spec)

    def to_json(self, genotype: Genotype) -> dict:
        return genotype.to_dict()

    def describe(self, genotype: Genotype) -> str:
        return str(genotype)
