"""NAS-Bench-201 architecture codes: 6 edges × a 5-way one-hot op (30 values), the input of NCP predictors.

Layout: the edges in the string order e(1←0), e(2←0), e(2←1), e(3←0), e(3←1), e(3←2); inside each
edge's block of 5 the one-hot position follows **NCP's published order** (:data:`CODE_OPS`):
0 = avg_pool_3x3, 1 = none, 2 = skip_connect, 3 = nor_conv_1x1, 4 = nor_conv_3x3 — not the
benchmark's op order. So the ``embedding`` vectors of NCP's released NAS-Bench-201 data
(``data/nas-bench-201/trainval.pkl``, records in official index order) decode directly with
:meth:`NB201Code.decode`.

:meth:`NB201Code.decode` wants an exact code (one 1 per edge block, 0 elsewhere);
:meth:`NB201Code.project` turns any real vector into the nearest cell by argmax per edge (ties go
to the lowest position), always valid because every combination of ops is a cell of the space.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unnas.spaces.base import check_code, check_one_hot

from .arch import EDGES, SPACE, NB201Arch, load_arch

#: One-hot position → op inside each edge block (NCP's order).
CODE_OPS: tuple[str, ...] = ("avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
#: The start of a propagation without one given: the ResNet-like cell of the benchmark paper (index 11472).
DEFAULT = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


class NB201Code:
    """encode / decode / project between :class:`NB201Arch` and its code."""

    space = SPACE
    arch_file = "arch.json"

    def __init__(self):
        width = len(CODE_OPS)
        #: ``(name, start, stop, kind)`` per group: one one-hot op group per edge, named ``e<to><-<from>``
        self.groups: list[tuple[str, int, int, str]] = [(f"e{to}<-{frm}", k * width, (k + 1) * width, "onehot")
                                                        for k, (to, frm) in enumerate(EDGES)]
        self.dim = width * len(EDGES)

    def labels(self) -> list[str]:
        """One name per code dimension (for pictures), e.g. ``e2<-1=nor_conv_3x3``."""
        return [f"{name}={op}" for name, *_ in self.groups for op in CODE_OPS]

    def encode(self, arch: Any) -> np.ndarray:
        a = load_arch(arch)
        code = np.zeros(self.dim, dtype=np.float32)
        for (_, start, _, _), op in zip(self.groups, a.ops):
            code[start + CODE_OPS.index(op)] = 1.0
        return code

    def _check(self, code: Any) -> np.ndarray:
        return check_code(code, self.dim, "a NAS-Bench-201 code")

    def decode(self, code: Any) -> NB201Arch:
        """The cell of an exact code (one 1 per edge block, 0 elsewhere)."""
        c = self._check(code)
        check_one_hot(c, self.groups)
        return self._arch(c)

    def project(self, code: Any) -> NB201Arch:
        """The cell nearest a real vector: argmax per edge block."""
        return self._arch(self._check(code))

    def _arch(self, c: np.ndarray) -> NB201Arch:
        return NB201Arch(tuple(CODE_OPS[int(np.argmax(c[start:stop]))] for _, start, stop, _ in self.groups))

    def default(self) -> NB201Arch:
        """The start of a propagation without one given: the ResNet-like cell (index 11472):
        node1 = conv3x3(0), node2 = conv3x3(1), node3 = skip(0) + skip(2), other edges none."""
        return NB201Arch.parse(DEFAULT)

    def load(self, spec: Any) -> NB201Arch:
        return load_arch(spec)

    def to_json(self, arch: NB201Arch) -> dict:
        return arch.to_json()

    def describe(self, arch: NB201Arch) -> str:
        return str(arch)
