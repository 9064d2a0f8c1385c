"""NAS-Bench-MR architectures (Ding et al., ICLR 2022): 27 integers, their ranges and their JSON form.

An architecture is HRNet-like: a stem of two stride-2 3×3 convolutions, then four stages with
1, 2, 3 and 4 parallel branches (branch k at 1/2^(k+1) of the input resolution), then a head.
It is written as 27 integers, in this order (the **layout**, shared by the code of
:mod:`.code` and the network of :mod:`.network`):

====================  =====  ==========================================================
position              name   meaning
====================  =====  ==========================================================
0, 1                  i1 i2  output channels of the two stem convolutions
then for s = 1..4:    s<s>.blocks      b_s: blocks (HRNet modules) in stage s
                      s<s>.units<k>    n_s^k, k = 1..s: residual units per block on branch k
                      s<s>.channels<k> c_s^k, k = 1..s: channels of branch k in stage s
26                    o      width of the head's 1×1 convolution (the classifier's input)
====================  =====  ==========================================================

So stage s takes 1 + 2s values: 2 + 3 + 5 + 7 + 9 + 1 = 27. The paper counts 27 values without
listing the last one; its initial code sets "b, n = 2 and c, i, o = 64", so the 27th is taken
to be the head width ``o``, placed last.

The JSON form (files, study plans, ``unnas info``) is ``{"space": "mr", "code": [27 integers]}``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

from unnas.errors import GenotypeError
from unnas.spaces.base import read_json

SPACE = "mr"
STAGES = 4
#: Allowed values of each kind of entry. The paper gives no ranges; these are unnas's choice:
#: 1–4 blocks per stage and 1–4 units per branch (the paper's initial code, 2, in the middle),
#: and widths in multiples of 8 from 8 to 128 (the initial 64 in the middle; multiples of 8
#: because the paper rounds propagated channels to them).
BLOCKS = range(1, 5)
UNITS = range(1, 5)
CHANNELS = range(8, 129, 8)
#: The paper's initial code: b, n = 2 and c, i, o = 64.
DEFAULT_COUNT, DEFAULT_WIDTH = 2, 64


def _layout() -> tuple[tuple[str, range], ...]:
    out = [("i1", CHANNELS), ("i2", CHANNELS)]
    for s in range(1, STAGES + 1):
        out.append((f"s{s}.blocks", BLOCKS))
        out += [(f"s{s}.units{k}", UNITS) for k in range(1, s + 1)]
        out += [(f"s{s}.channels{k}", CHANNELS) for k in range(1, s + 1)]
    out.append(("o", CHANNELS))
    return tuple(out)


#: ``(name, allowed values)`` per code position.
LAYOUT = _layout()
LABELS = tuple(name for name, _ in LAYOUT)
RANGES = tuple(r for _, r in LAYOUT)
DIM = len(LAYOUT)


def _stage_start(s: int) -> int:
    """Position of b_s in the code: after the stem (2) and stages 1..s-1 (1 + 2j values each)."""
    return 2 + sum(1 + 2 * j for j in range(1, s))


def _describe_range(r: range) -> str:
    return f"a multiple of {r.step} in [{r.start}, {r[-1]}]" if r.step > 1 else f"an integer in [{r.start}, {r[-1]}]"


def _as_tuple(values: Any) -> tuple | None:
    try:
        return tuple(values)
    except TypeError:
        return None


@dataclass(frozen=True)
class Stage:
    """One stage: ``blocks`` HRNet modules, each with ``units[k]`` residual units on branch k."""

    blocks: int
    units: tuple[int, ...]
    channels: tuple[int, ...]


@dataclass(frozen=True)
class MRArch:
    """One NAS-Bench-MR architecture: the 27 values of the layout, each checked against its range."""

    code: tuple[int, ...]
    #: where the values came from, for error messages only (not part of the architecture)
    where: str = field(default="MR architecture", compare=False, repr=False)

    def __post_init__(self):
        values = None if isinstance(self.code, (str, bytes, dict)) else _as_tuple(self.code)
        if values is None or len(values) != DIM:
            raise GenotypeError(f"{self.where}: an MR code is a list of {DIM} integers, got {self.code!r}")
        clean = []
        for name, r, v in zip(LABELS, RANGES, values):
            exact = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and int(v) == v
            if not exact or int(v) not in r:
                raise GenotypeError(f"{self.where}: {name}={v!r} must be {_describe_range(r)}")
            clean.append(int(v))
        object.__setattr__(self, "code", tuple(clean))

    @property
    def stem(self) -> tuple[int, int]:
        return self.code[0], self.code[1]

    @property
    def head(self) -> int:
        return self.code[-1]

    def stage(self, s: int) -> Stage:
        """Stage ``s`` (1..4)."""
        at = _stage_start(s)
        return Stage(self.code[at], self.code[at + 1:at + 1 + s], self.code[at + 1 + s:at + 1 + 2 * s])

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(self.stage(s) for s in range(1, STAGES + 1))

    def to_json(self) -> dict:
        return {"space": SPACE, "code": list(self.code)}

    @classmethod
    def from_json(cls, obj: Any, where: str = "MR architecture") -> "MRArch":
        """From ``{"space": "mr", "code": [...]}`` (``space`` may be left out) or a bare list of 27 values."""
        if isinstance(obj, dict):
            form = f'{{"space": "mr", "code": [{DIM} integers]}}'
            if obj.get("space", SPACE) != SPACE:
                raise GenotypeError(f"{where}: space is {obj['space']!r}, not 'mr'; an MR architecture is {form}")
            if "code" not in obj:
                raise GenotypeError(f"{where}: no \"code\"; an MR architecture is {form}")
            obj = obj["code"]
        return cls(obj, where)

    def __str__(self) -> str:
        stages = " | ".join(f"b{s.blocks} n{list(s.units)} c{list(s.channels)}" for s in self.stages)
        return f"MR stem {list(self.stem)} | {stages} | head {self.head}"


def default_arch() -> MRArch:
    """The paper's initial code: every block and unit count 2, every width 64."""
    return MRArch([DEFAULT_WIDTH if r is CHANNELS else DEFAULT_COUNT for r in RANGES])


def is_mr_json(obj: Any) -> bool:
    """Whether a parsed JSON value claims to be an MR architecture (``"space": "mr"``)."""
    return isinstance(obj, dict) and obj.get("space") == SPACE


def load_arch(spec: Any) -> MRArch:
    """An :class:`MRArch` from itself, its JSON form, a list of 27 values, or a JSON file holding one."""
    if isinstance(spec, MRArch):
        return spec
    if isinstance(spec, (dict, list, tuple)):
        return MRArch.from_json(spec)
    return MRArch.from_json(read_json(spec, "MR architecture file", GenotypeError), where=str(spec))


def nearest(values: Sequence[float]) -> MRArch:
    """The valid architecture nearest any real vector: per entry the closest allowed value
    (channels to a multiple of 8, ties upwards), clamped into its range."""
    out = []
    for v, r in zip(values, RANGES):
        index = int(min(max((float(v) - r.start) / r.step + 0.5, 0), len(r) - 1))  # floor of a non-negative
        out.append(r[index])
    return MRArch(out)
