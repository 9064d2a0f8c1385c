"""NAS-Bench-MR architecture codes: the 27 integers of the layout (:mod:`.arch`) as a float vector.

Unlike the one-hot DARTS and NAS-Bench-101 codes, every MR value is ordinal (a count or a width),
so the code *is* the architecture and every real vector has a nearest architecture: round each
value to its closest allowed one (channels to a multiple of 8) and clamp it into its range. That
is what the paper does after propagating a code ("round channels to multiples of 8 and decode"),
so :meth:`MRCode.decode` and :meth:`MRCode.project` are the same map here; neither refuses a
continuous code.

Each value is coded in units of its own step (widths ÷ 8, counts as they are), so one unit of
code is one allowed step everywhere: a propagation step (lr 3 in the paper) then moves a width by
a few multiples of 8 as it moves a count by a few units. In raw channels the same step moved a
width by less than half a multiple of 8, and propagation stalled at its start.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unnas.spaces.base import check_code

from .arch import DIM, LABELS, RANGES, SPACE, MRArch, default_arch, load_arch, nearest

#: Allowed step of each code position (8 for widths, 1 for counts): code = value / step.
STEPS = np.array([r.step for r in RANGES], dtype=np.float64)


class MRCode:
    """encode / decode / project between :class:`MRArch` and its code."""

    space = SPACE
    arch_file = "arch.json"

    def __init__(self):
        #: ``(name, start, stop, kind)`` per group: one ordinal value per group
        self.groups: list[tuple[str, int, int, str]] = [(name, k, k + 1, "ordinal") for k, name in enumerate(LABELS)]
        self.dim = DIM

    def labels(self) -> list[str]:
        """One name per code dimension (for pictures)."""
        return list(LABELS)

    def encode(self, arch: Any) -> np.ndarray:
        return (np.asarray(load_arch(arch).code, dtype=np.float64) / STEPS).astype(np.float32)

    def decode(self, code: Any) -> MRArch:
        """The architecture of a code, rounded and clamped like :meth:`project` (see the module docstring)."""
        return self.project(code)

    def project(self, code: Any) -> MRArch:
        """The valid architecture nearest a real vector: per value the closest allowed one, clamped."""
        return nearest(check_code(code, self.dim, "an MR code") * STEPS)

    def default(self) -> MRArch:
        """The start of a propagation without one given: the paper's initial code (b, n = 2; c, i, o = 64)."""
        return default_arch()

    def load(self, spec: Any) -> MRArch:
        return load_arch(spec)

    def to_json(self, arch: MRArch) -> dict:
        return arch.to_json()

    def describe(self, arch: MRArch) -> str:
        return str(arch)
