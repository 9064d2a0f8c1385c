"""The DARTS cell space as black-box strategies see it: sample, mutate, encode, decisions.

Architectures here never hold ``none`` and never feed one node twice from the same state, so a
mutation (one edge's op or one edge's input, in the normal or the reduce cell) always yields a
different, buildable genotype. Draws follow :mod:`unnas.trials.darts_sampler`'s scheme (normal
then reduce, node by node, uniform) restricted to those rules; no complexity window is applied.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np

from unnas.spaces.darts.code import DartsCode
from unnas.spaces.darts.genotype import Genotype
from unnas.spaces.darts.ops import PRIMITIVES

#: Ops a black-box DARTS architecture may use (``none`` would cut an edge).
OPS: tuple[str, ...] = tuple(op for op in PRIMITIVES if op != "none")
KINDS = ("normal", "reduce")


class DartsSpace:
    space = "darts"
    arch_file = "genotype.json"

    def __init__(self, nodes: int = 4):
        self.nodes = nodes
        self.code = DartsCode(nodes)
        self.concat = list(range(2, nodes + 2))
        #: per node: the unordered input pairs it may take
        self.pairs = [list(combinations(range(node), 2)) for node in range(2, nodes + 2)]

    # ------------------------------------------------------------------ black-box interface
    def sample(self, rng: np.random.Generator) -> Genotype:
        cells = []
        for _kind in KINDS:
            cell = []
            for node in range(2, self.nodes + 2):
                for inp in sorted(rng.choice(node, size=2, replace=False).tolist()):
                    cell.append((OPS[int(rng.integers(len(OPS)))], int(inp)))
            cells.append(cell)
        return self._genotype(cells)

    def mutate(self, genotype: Genotype, rng: np.random.Generator) -> Genotype:
        """Change one edge's op or one edge's input (never ``none``, never a node's other input)."""
        cells = [list(genotype.cell(kind)[0]) for kind in KINDS]
        c = int(rng.integers(2))
        edge = int(rng.integers(len(cells[c])))
        op, inp = cells[c][edge]
        node = edge // 2 + 2
        other = cells[c][edge ^ 1][1]
        inputs = [i for i in range(node) if i not in (inp, other)]
        if rng.random() < 0.5 or not inputs:
            cells[c][edge] = (str(rng.choice([o for o in OPS if o != op])), inp)
        else:
            cells[c][edge] = (op, int(rng.choice(inputs)))
        return self._genotype(cells)

    def encode(self, genotype: Genotype) -> np.ndarray:
        return self.code.encode(genotype)

    def key(self, genotype: Genotype) -> str:
        """Identity for de-duplication: the two cells with each node's pair in a fixed order."""
        cells = [[sorted(cell[i:i + 2], key=lambda p: (p[1], p[0])) for i in range(0, len(cell), 2)]
                 for cell in (list(genotype.cell(kind)[0]) for kind in KINDS)]
        return str(cells)

    def to_json(self, genotype: Genotype) -> dict:
        return genotype.to_dict()

    def from_json(self, obj: Any) -> Genotype:
        return Genotype.from_obj(obj)

    def valid(self, genotype: Genotype) -> bool:
        for kind in KINDS:
            pairs = genotype.cell(kind)[0]
            if any(op not in OPS for op, _ in pairs):
                return False
            if any(pairs[i][1] == pairs[i + 1][1] for i in range(0, len(pairs), 2)):
                return False
        return True

    # ------------------------------------------------------------------ sequential decisions (PPO)
    def decisions(self) -> list[int]:
        """Choice counts, in order: per cell, per node: its input pair, then the op of each of its two edges."""
        return [n for _kind in KINDS for pairs in self.pairs for n in (len(pairs), len(OPS), len(OPS))]

    def from_decisions(self, choices: Sequence[int]) -> Genotype | None:
        it = iter(int(c) for c in choices)
        cells = []
        for _kind in KINDS:
            cell = []
            for pairs in self.pairs:
                a, b = pairs[next(it)]
                cell += [(OPS[next(it)], a), (OPS[next(it)], b)]
            cells.append(cell)
        return self._genotype(cells)

    def _genotype(self, cells: list[list[tuple[str, int]]]) -> Genotype:
        return Genotype(cells[0], self.concat, cells[1], self.concat)
