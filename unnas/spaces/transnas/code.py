"""TransNAS-Bench-101 architecture codes, the input of NCP predictors.

**Micro** (:class:`MicroCode`, 24 values): the 6 edges in the string order a, b, c, d, e, f, each a
4-way one-hot over the op digits in their own order (0 none, 1 skip_connect, 2 nor_conv_1x1,
3 nor_conv_3x3). Every combination is a cell, so :meth:`MicroCode.project` is the argmax per edge.

**Macro** (:class:`MacroCode`, 30 values): 6 module **positions**, each a 5-way one-hot over
(absent, 1, 2, 3, 4) — position k holds the k-th module's digit, and positions past the last
module are "absent" (modules left-aligned, the absent ones at the end: NASLib's zero-padded
6-digit form, one-hot). ``64-2311-basic`` is 2, 3, 1, 1, absent, absent.

Not every one-hot combination is an architecture (an absent position before a present one, fewer
than 4 modules, or the downsampling / doubling rules broken), so :meth:`MacroCode.project` returns
the **nearest valid architecture**: the one of the 3,256 whose code is closest to the vector in
Euclidean distance. Every valid code has exactly six 1s, so that is the one with the largest inner
product ``code · v``: a 3,256 × 30 matrix product. Ties go to the first in
:func:`~.arch.macro_archs` order (fewer modules first). When the per-position argmax is itself a
valid architecture the projection returns it, since it maximises the inner product over all
one-hot codes. :meth:`MacroCode.decode` accepts exact codes of valid architectures only.

Defaults (the start of a propagation without one given): micro ``64-41414-3_03_101``, the ResNet-like
cell (node1 = conv3x3(0), node2 = conv3x3(1), node3 = skip(0) + skip(2), as NAS-Bench-201's
ResNet cell); macro ``64-41414-basic``, the micro skeleton with the basic block — a ResNet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unnas.errors import GenotypeError
from unnas.spaces.base import check_code

from .arch import (
    MACRO,
    MAX_MODULES,
    MICRO,
    MICRO_EDGES,
    MICRO_OPS,
    MacroArch,
    MicroArch,
    load_arch,
    macro_archs,
    macro_rule_error,
)

#: One-hot position → module digit of a macro position (0 = absent).
MACRO_CHOICES: tuple[str, ...] = ("absent", "1", "2", "3", "4")
MICRO_DEFAULT = "64-41414-3_03_101"
MACRO_DEFAULT = "64-41414-basic"


def _check(code: Any, dim: int, what: str) -> np.ndarray:
    return check_code(code, dim, what)


def _one_hot_groups(c: np.ndarray, groups: list[tuple[str, int, int, str]]) -> list[int]:
    """Each group's position in an exact code, or a one-line error naming the first group that is not one-hot."""
    out = []
    for name, start, stop, _ in groups:
        part = c[start:stop]
        if not (np.isin(part, (0.0, 1.0)).all() and part.sum() == 1):
            raise GenotypeError(f"code group {name} is not one-hot ({part.round(3).tolist()}); "
                                "project a continuous code instead of decoding it")
        out.append(int(np.argmax(part)))
    return out


class MicroCode:
    """encode / decode / project between :class:`MicroArch` and its 24-value code."""

    space = MICRO
    arch_file = "arch.json"

    def __init__(self):
        width = len(MICRO_OPS)
        #: ``(name, start, stop, kind)``: one one-hot op group per edge, named ``e<to><-<from>``
        self.groups: list[tuple[str, int, int, str]] = [(f"e{to}<-{frm}", k * width, (k + 1) * width, "onehot")
                                                        for k, (to, frm) in enumerate(MICRO_EDGES)]
        self.dim = width * len(MICRO_EDGES)

    def labels(self) -> list[str]:
        return [f"{name}={op}" for name, *_ in self.groups for op in MICRO_OPS]

    def encode(self, arch: Any) -> np.ndarray:
        a = load_arch(arch, MICRO)
        code = np.zeros(self.dim, dtype=np.float32)
        for (_, start, _, _), d in zip(self.groups, a.digits):
            code[start + d] = 1.0
        return code

    def decode(self, code: Any) -> MicroArch:
        """The cell of an exact code (one 1 per edge group, 0 elsewhere)."""
        return MicroArch(tuple(_one_hot_groups(_check(code, self.dim, "a TransNAS micro code"), self.groups)))

    def project(self, code: Any) -> MicroArch:
        """The cell nearest a real vector: argmax per edge (ties to the lower digit)."""
        c = _check(code, self.dim, "a TransNAS micro code")
        return MicroArch(tuple(int(np.argmax(c[start:stop])) for _, start, stop, _ in self.groups))

    def default(self) -> MicroArch:
        """The ResNet-like cell ``64-41414-3_03_101`` (see the module docstring)."""
        return MicroArch.parse(MICRO_DEFAULT)

    def load(self, spec: Any) -> MicroArch:
        return load_arch(spec, MICRO)

    def to_json(self, arch: MicroArch) -> dict:
        return arch.to_json()

    def describe(self, arch: MicroArch) -> str:
        return str(arch)


class MacroCode:
    """encode / decode / project between :class:`MacroArch` and its 30-value code (see the module docstring)."""

    space = MACRO
    arch_file = "arch.json"

    def __init__(self):
        width = len(MACRO_CHOICES)
        #: ``(name, start, stop, kind)``: one one-hot group per module position, named ``m<k>`` (k = 1..6)
        self.groups: list[tuple[str, int, int, str]] = [(f"m{k + 1}", k * width, (k + 1) * width, "onehot")
                                                        for k in range(MAX_MODULES)]
        self.dim = width * MAX_MODULES
        self._archs: tuple[MacroArch, ...] = ()
        self._codes: np.ndarray | None = None

    def labels(self) -> list[str]:
        return [f"{name}={choice}" for name, *_ in self.groups for choice in MACRO_CHOICES]

    def _raw(self, modules: tuple[int, ...]) -> np.ndarray:
        code = np.zeros(self.dim, dtype=np.float32)
        for k, (_, start, _, _) in enumerate(self.groups):
            code[start + (modules[k] if k < len(modules) else 0)] = 1.0
        return code

    def encode(self, arch: Any) -> np.ndarray:
        return self._raw(load_arch(arch, MACRO).modules)

    def decode(self, code: Any) -> MacroArch:
        """The skeleton of an exact code: one-hot positions, absent ones only at the end, the rules kept."""
        choices = _one_hot_groups(_check(code, self.dim, "a TransNAS macro code"), self.groups)
        n = next((k for k, v in enumerate(choices) if v == 0), len(choices))
        if any(choices[n:]):
            raise GenotypeError(f"macro code: position m{n + 1} is absent but a later one holds a module; modules "
                                "must be contiguous from m1 (project the code to repair it)")
        why = macro_rule_error(tuple(choices[:n]))
        if why:
            raise GenotypeError(f"macro code: skeleton {''.join(map(str, choices[:n]))} {why} (project the code "
                                "to repair it)")
        return MacroArch(tuple(choices[:n]))

    def project(self, code: Any) -> MacroArch:
        """The valid skeleton nearest a real vector (Euclidean; ties to the first in enumeration order)."""
        c = _check(code, self.dim, "a TransNAS macro code")
        if self._codes is None:
            self._archs = macro_archs()
            self._codes = np.stack([self._raw(a.modules) for a in self._archs]).astype(np.float64)
        return self._archs[int(np.argmax(self._codes @ c))]

    def default(self) -> MacroArch:
        """``64-41414-basic``: the micro space's skeleton with the basic block (see the module docstring)."""
        return MacroArch.parse(MACRO_DEFAULT)

    def load(self, spec: Any) -> MacroArch:
        return load_arch(spec, MACRO)

    def to_json(self, arch: MacroArch) -> dict:
        return arch.to_json()

    def describe(self, arch: MacroArch) -> str:
        return str(arch)
