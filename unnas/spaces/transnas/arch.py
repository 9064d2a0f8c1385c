"""TransNAS-Bench-101 architectures (Duan et al., CVPR 2021): the micro (cell) and macro (skeleton) spaces.

Both are written ``"{base channels}-{macro digits}-{cell}"``; the benchmark's base is always 64.

**Macro digits** (one per module; a module is 2 blocks, the first carrying the change):
1 = keep, 2 = channels ×2, 3 = resolution ÷2 (stride 2), 4 = both (:data:`MODULE_KINDS`).

**Micro space** (``transnas_micro``, :class:`MicroArch`): the skeleton is fixed at ``64-41414``
(5 modules, 10 cells) and the cell varies: ``a_bc_def`` holds the ops of the 6 edges of a 4-node
cell in the NAS-Bench-201 string order — node1 = a(n0); node2 = b(n0) + c(n1); node3 = d(n0) +
e(n1) + f(n2) — each a digit 0 = none, 1 = skip_connect, 2 = nor_conv_1x1, 3 = nor_conv_3x3
(:data:`MICRO_OPS`). 4^6 = 4,096 cells. Example: ``64-41414-1_02_333``.

**Macro space** (``transnas_macro``, :class:`MacroArch`): the cell is the ResNet basic block
(``basic``) and the skeleton varies: 4–6 modules, of which 1–4 downsample (digit 3 or 4) and 1–3
double the channels (digit 2 or 4) — the rules of TransNAS's own sampler and NASLib's. Exactly
3,256 strings (210 + 750 + 2,296 of lengths 4, 5, 6). Example: ``64-2311-basic``.

**Order and index.** :func:`micro_archs` and :func:`macro_archs` enumerate each space in unnas's
order (micro: digit a slowest … f fastest; macro: by length, then digits lexicographically). The
benchmark's own index order (macro 0–3,255 then micro 3,256–7,351) comes from an unpublished file,
``net_strings.json``, and cannot be derived: query the benchmark's API for it, so no index is
offered here.

**JSON form**: ``{"space": "transnas_micro" | "transnas_macro", "arch": "<string>"}``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from unnas.errors import GenotypeError
from unnas.spaces.base import read_json

MICRO = "transnas_micro"
MACRO = "transnas_macro"
SPACES = (MICRO, MACRO)
BASE_CHANNELS = 64
#: Micro op per digit (the benchmark's digit semantics; names as in NAS-Bench-201).
MICRO_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
#: The micro space's fixed skeleton.
MICRO_SKELETON: tuple[int, ...] = (4, 1, 4, 1, 4)
#: ``(to, from)`` of each micro edge, in the string order a, b, c, d, e, f.
MICRO_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: What each macro digit does to a module's input.
MODULE_KINDS = {1: "keep", 2: "x2 width", 3: "/2 resolution", 4: "x2 width, /2 resolution"}
MIN_MODULES, MAX_MODULES = 4, 6
DOWNSAMPLE_RANGE = (1, 4)
DOUBLING_RANGE = (1, 3)
MICRO_FORM = "64-41414-a_bc_def with digits 0-3 (0 none, 1 skip, 2 conv1x1, 3 conv3x3)"
MACRO_FORM = "64-<4 to 6 digits 1-4>-basic (1 keep, 2 x2 width, 3 /2 resolution, 4 both)"


def module_stride(digit: int) -> int:
    return 2 if digit > 2 else 1


def module_widens(digit: int) -> bool:
    return digit % 2 == 0


def _split(text: Any, where: str) -> tuple[str, str, str]:
    if not isinstance(text, str):
        raise GenotypeError(f"{where}: expected a TransNAS-Bench-101 string ({MICRO_FORM}, or {MACRO_FORM}), "
                            f"got {text!r}")
    parts = text.strip().split("-")
    if len(parts) != 3:
        raise GenotypeError(f"{where}: {text!r} is not base-skeleton-cell; the forms are {MICRO_FORM} and {MACRO_FORM}")
    if parts[0] != str(BASE_CHANNELS):
        raise GenotypeError(f"{where}: base channels {parts[0]!r} in {text!r}; the benchmark's strings all start with "
                            f"{BASE_CHANNELS} (set the network's base_channels to build other widths)")
    return parts[0], parts[1], parts[2]


# ---------------------------------------------------------------------- micro
@dataclass(frozen=True)
class MicroArch:
    """One micro-space cell: 6 op digits (0–3) in the string order a, b, c, d, e, f."""

    digits: tuple[int, ...]

    space = MICRO

    def __post_init__(self):
        d = self.digits
        if isinstance(d, (str, bytes)) or not isinstance(d, (list, tuple)) or len(d) != len(MICRO_EDGES):
            raise GenotypeError(f"a TransNAS micro cell has 6 op digits (a, b, c, d, e, f), got {d!r}")
        for (to, frm), v in zip(MICRO_EDGES, d):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(MICRO_OPS):
                raise GenotypeError(f"TransNAS micro edge {to}<-{frm}: op digit {v!r} must be 0-3 "
                                    f"({', '.join(f'{k} {op}' for k, op in enumerate(MICRO_OPS))})")
        object.__setattr__(self, "digits", tuple(d))

    @property
    def ops(self) -> tuple[str, ...]:
        """The op names of the 6 edges (string order)."""
        return tuple(MICRO_OPS[v] for v in self.digits)

    @property
    def modules(self) -> tuple[int, ...]:
        """The fixed skeleton's module digits."""
        return MICRO_SKELETON

    @property
    def cell(self) -> str:
        a, b, c, d, e, f = self.digits
        return f"{a}_{b}{c}_{d}{e}{f}"

    @classmethod
    def parse(cls, text: Any, where: str = "TransNAS micro string") -> "MicroArch":
        _, skeleton, cell = _split(text, where)
        if cell == "basic":
            raise GenotypeError(f"{where}: {text!r} is a macro-space string (cell 'basic'); a micro string is "
                                f"{MICRO_FORM}")
        if skeleton != "".join(map(str, MICRO_SKELETON)):
            raise GenotypeError(f"{where}: skeleton {skeleton!r} in {text!r}; the micro space's skeleton is fixed at "
                                "41414")
        if not re.fullmatch(r"[0-9]_[0-9]{2}_[0-9]{3}", cell):
            raise GenotypeError(f"{where}: cell {cell!r} in {text!r} is not a_bc_def; the form is {MICRO_FORM}")
        digits = tuple(int(ch) for ch in cell if ch != "_")
        for (to, frm), v in zip(MICRO_EDGES, digits):
            if v >= len(MICRO_OPS):
                raise GenotypeError(f"{where}: edge {to}<-{frm} of {text!r} has op digit {v}; the digits are 0-3 "
                                    f"({', '.join(f'{k} {op}' for k, op in enumerate(MICRO_OPS))})")
        return cls(digits)

    def __str__(self) -> str:
        return f"{BASE_CHANNELS}-{''.join(map(str, MICRO_SKELETON))}-{self.cell}"

    def to_json(self) -> dict:
        return {"space": MICRO, "arch": str(self)}

    @classmethod
    def from_json(cls, obj: Any, where: str = "TransNAS micro architecture") -> "MicroArch":
        return cls.parse(_json_arch(obj, MICRO, MICRO_FORM, where), where)


# ---------------------------------------------------------------------- macro
def macro_rule_error(digits: tuple[int, ...]) -> str | None:
    """Why a digit tuple breaks the macro space's rules, or None when it follows them."""
    if not MIN_MODULES <= len(digits) <= MAX_MODULES:
        return f"has {len(digits)} modules; the macro space has {MIN_MODULES} to {MAX_MODULES}"
    bad = [v for v in digits if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4]
    if bad:
        return f"module digit {bad[0]!r} must be 1-4 (1 keep, 2 x2 width, 3 /2 resolution, 4 both)"
    down = sum(module_stride(v) == 2 for v in digits)
    if not DOWNSAMPLE_RANGE[0] <= down <= DOWNSAMPLE_RANGE[1]:
        return f"has {down} downsampling modules (digit 3 or 4); the macro space needs 1 to 4"
    wide = sum(module_widens(v) for v in digits)
    if not DOUBLING_RANGE[0] <= wide <= DOUBLING_RANGE[1]:
        return f"has {wide} channel-doubling modules (digit 2 or 4); the macro space needs 1 to 3"
    return None


@dataclass(frozen=True)
class MacroArch:
    """One macro-space skeleton: 4–6 module digits (1–4) under the space's rules; the cell is the basic block."""

    modules: tuple[int, ...]

    space = MACRO

    def __post_init__(self):
        m = self.modules
        if isinstance(m, (str, bytes)) or not isinstance(m, (list, tuple)):
            raise GenotypeError(f"a TransNAS macro skeleton is a list of 4-6 module digits 1-4, got {m!r}")
        why = macro_rule_error(tuple(m))
        if why:
            raise GenotypeError(f"TransNAS macro skeleton {''.join(map(str, m))} {why}")
        object.__setattr__(self, "modules", tuple(m))

    @property
    def downsampling(self) -> int:
        return sum(module_stride(v) == 2 for v in self.modules)

    @property
    def doubling(self) -> int:
        return sum(module_widens(v) for v in self.modules)

    def widths(self, base: int = BASE_CHANNELS) -> list[int]:
        """Output channels of each module."""
        out, c = [], base
        for v in self.modules:
            c = 2 * c if module_widens(v) else c
            out.append(c)
        return out

    def reductions(self) -> list[int]:
        """Total downsampling of each module's output relative to the input image (the stem gives 4)."""
        out, r = [], 4
        for v in self.modules:
            r *= module_stride(v)
            out.append(r)
        return out

    @classmethod
    def parse(cls, text: Any, where: str = "TransNAS macro string") -> "MacroArch":
        _, skeleton, cell = _split(text, where)
        if cell != "basic":
            raise GenotypeError(f"{where}: cell {cell!r} in {text!r}; macro-space strings end in 'basic' "
                                f"({MACRO_FORM})")
        if not re.fullmatch(r"[0-9]+", skeleton):
            raise GenotypeError(f"{where}: skeleton {skeleton!r} in {text!r} must be digits; the form is {MACRO_FORM}")
        digits = tuple(int(ch) for ch in skeleton)
        why = macro_rule_error(digits)
        if why:
            raise GenotypeError(f"{where}: skeleton {skeleton} in {text!r} {why}")
        return cls(digits)

    def __str__(self) -> str:
        return f"{BASE_CHANNELS}-{''.join(map(str, self.modules))}-basic"

    def to_json(self) -> dict:
        return {"space": MACRO, "arch": str(self)}

    @classmethod
    def from_json(cls, obj: Any, where: str = "TransNAS macro architecture") -> "MacroArch":
        return cls.parse(_json_arch(obj, MACRO, MACRO_FORM, where), where)


TransNASArch = Union[MicroArch, MacroArch]


def _json_arch(obj: Any, space: str, form: str, where: str) -> Any:
    text = '{"space": "' + space + '", "arch": "' + form + '"}'
    if not isinstance(obj, dict):
        raise GenotypeError(f"{where}: expected {text}, got {str(obj)[:80]!r}")
    if obj.get("space", space) != space:
        raise GenotypeError(f"{where}: space is {obj['space']!r}, not {space!r}; expected {text}")
    if "arch" not in obj:
        raise GenotypeError(f"{where}: no \"arch\"; expected {text}")
    return obj["arch"]


def parse_arch(text: Any, where: str = "TransNAS-Bench-101 string") -> TransNASArch:
    """A micro or a macro architecture, whichever the string is (``...-basic`` is macro)."""
    _, _, cell = _split(text, where)
    return MacroArch.parse(text, where) if cell == "basic" else MicroArch.parse(text, where)


# ---------------------------------------------------------------------- enumeration
_MICRO: tuple[MicroArch, ...] | None = None
_MACRO: tuple[MacroArch, ...] | None = None


def micro_archs() -> tuple[MicroArch, ...]:
    """All 4,096 micro cells, digit a slowest … f fastest (unnas's order, not the benchmark's index); built once."""
    global _MICRO
    if _MICRO is None:
        _MICRO = tuple(MicroArch(d) for d in itertools.product(range(len(MICRO_OPS)), repeat=len(MICRO_EDGES)))
    return _MICRO


def macro_archs() -> tuple[MacroArch, ...]:
    """All 3,256 macro skeletons: by length (4, 5, 6), then lexicographically (unnas's order); built once."""
    global _MACRO
    if _MACRO is None:
        _MACRO = tuple(MacroArch(d) for n in range(MIN_MODULES, MAX_MODULES + 1)
                       for d in itertools.product(range(1, 5), repeat=n) if macro_rule_error(d) is None)
    return _MACRO


def all_archs(space: str) -> tuple[TransNASArch, ...]:
    """Every architecture of ``transnas_micro`` or ``transnas_macro`` (also ``micro`` / ``macro``)."""
    return micro_archs() if canonical_space(space) == MICRO else macro_archs()


def canonical_space(space: str) -> str:
    name = {"micro": MICRO, "macro": MACRO}.get(space, space)
    if name not in SPACES:
        raise GenotypeError(f"unknown TransNAS-Bench-101 space {space!r}; choose {MICRO} or {MACRO}")
    return name


# ---------------------------------------------------------------------- loading
def is_transnas_json(obj: Any) -> bool:
    """Whether a parsed JSON value claims to be a TransNAS architecture (``"space": "transnas_micro|macro"``)."""
    return isinstance(obj, dict) and obj.get("space") in SPACES


def _from_obj(obj: Any, want: str | None, where: str) -> TransNASArch:
    """From the JSON form; the space comes from ``"space"``, else ``want``, else the string itself."""
    form = '{"space": "transnas_micro" | "transnas_macro", "arch": "<string>"}'
    if not isinstance(obj, dict):
        raise GenotypeError(f"{where}: expected {form}, got {str(obj)[:80]!r}")
    space = obj.get("space", want)
    if space is None:
        if "arch" not in obj:
            raise GenotypeError(f"{where}: no \"arch\"; expected {form}")
        return parse_arch(obj["arch"], where)
    if space not in SPACES:
        raise GenotypeError(f"{where}: space is {space!r}; expected {form}")
    return (MicroArch if space == MICRO else MacroArch).from_json(obj, where)


def load_arch(spec: Any, space: str | None = None) -> TransNASArch:
    """A :class:`MicroArch` or :class:`MacroArch` from itself, its string, its JSON form
    ``{"space": ..., "arch": ...}`` or the path of a JSON file holding that form. With ``space``
    (``transnas_micro`` / ``transnas_macro``) anything of the other space is refused. There is no
    index form: the benchmark's index order cannot be derived (see the module docstring)."""
    want = None if space is None else canonical_space(space)
    where = "TransNAS-Bench-101 architecture"
    if isinstance(spec, (MicroArch, MacroArch)):
        arch = spec
    elif isinstance(spec, dict):
        arch = _from_obj(spec, want, where)
    elif isinstance(spec, str) and re.match(r"\s*\d+-", spec):
        arch = parse_arch(spec, where)
    elif isinstance(spec, (str, Path)):
        where = str(spec)
        arch = _from_obj(read_json(spec, "TransNAS-Bench-101 architecture file", GenotypeError), want, where)
    else:
        raise GenotypeError(f"cannot read a TransNAS-Bench-101 architecture from {spec!r}; give its string "
                            f"({MICRO_FORM}, or {MACRO_FORM}), its JSON form or a JSON file (there is no index form)")
    if want is not None and arch.space != want:
        raise GenotypeError(f"{where}: {str(arch)!r} belongs to {arch.space}, not {want}")
    return arch
