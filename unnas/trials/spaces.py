"""Every search space by name: what studies, strategies, NCP and the commands ask of a space, in one table.

Each space package owns its pieces (parse/format, validation, sampling, mutation, code, network,
cost, pictures); this registry only names them, so no caller branches on the space. It sits on the
trials floor because one piece lives above the spaces: a DARTS genotype's trainable network is one
of :mod:`eval.networks`' evaluation networks.

An architecture travels as JSON (a job in ``plan.json``, a line of ``history.jsonl``): DARTS the
paper's list form, NAS-Bench-101 ``{matrix, ops}``, the others ``{"space": name, ...}``.
:meth:`Space.load` reads any form a user may give (a file, a string, a published name, an index)
and :meth:`Space.to_json` writes the JSON form back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from torch import nn

import unnas.spaces.nasbench101 as nb101
from eval.networks import build_network
from unnas.errors import ConfigError
from unnas.spaces import mr, nasbench201, transnas
from unnas.spaces.darts.code import DartsCode
from unnas.spaces.darts.genotype import load_genotype
from unnas.spaces.darts.mutation import DartsSpace
from unnas.spaces.nasbench101.code import NB101Code
from unnas.spaces.nasbench101.mutation import NB101Space

from . import darts_sampler

#: Other names accepted for a space (older configs and the benchmarks' own names).
ALIASES = {"nas_bench": "nasbench101", "nb101": "nasbench101", "nb201": "nasbench201", "nats_tss": "nasbench201",
           "micro": "transnas_micro", "macro": "transnas_macro"}


@dataclass(frozen=True)
class Space:
    """What a space offers, by name. ``network(arch, net, in_channels, num_classes) -> (network, trunk)``:
    the classification network (its own classifier) when ``num_classes`` is given, and the trunk a task
    head sits on (``out_channels`` wide); ``samples(count, seed)`` and ``enumerate()`` give ``[(id, arch)]``."""

    name: str
    description: str
    code: Callable[..., Any]
    view: Callable[..., Any]
    network: Callable[[Any, Any, int, int | None], tuple[nn.Module, nn.Module]]
    samples: Callable[[int, int], list] | None = None
    enumerate: Callable[[], list] | None = None
    read_samples: Callable[[Path], list] | None = None
    #: The id of an architecture read from a list of strings (None: its position in the list).
    ident: Callable[[Any], str] | None = None
    #: Network settings (``network.*`` keys) the space reads; the others do not apply to it.
    settings: tuple[str, ...] = ()

    @property
    def arch_file(self) -> str:
        return self.code().arch_file

    def load(self, spec: Any) -> Any:
        """The space's architecture object from a file path, a JSON form, a string, a published name or an index."""
        return load_genotype(spec) if self.name == "darts" else self.code().load(spec)

    def to_json(self, arch: Any) -> Any:
        if isinstance(arch, (dict, list)):  # already JSON (a plan's, or a samples file's): kept as written
            return arch
        return arch.to_list() if self.name == "darts" else self.code().to_json(arch)

    def canonical(self, arch: Any) -> str:
        """The arch's one-line text: the benchmark's string (NB201, TransNAS), NAS-Bench-101's module hash (the
        benchmark's key), the genotype's or MR code's own line."""
        loaded = self.load(arch)
        return loaded.module_hash() if self.name == "nasbench101" else str(loaded).replace("\n", " | ")


# ----------------------------------------------------------------------------- networks
def _darts(arch, net, in_channels, num_classes):
    model = build_network(arch, net.setting, width=net.width, cells=net.cells, num_classes=num_classes or 10,
                          aux=False, in_channels=in_channels)
    return model, model.trunk


def _nb101(arch, net, in_channels, num_classes):
    spec = nb101.ModelSpec.from_dict(arch, where="architecture")
    model = nb101.NB101Network(spec, net.setting, num_classes, net.stem_width, net.num_stacks,
                               net.modules_per_stack, in_channels)
    return model, model


def _mr(arch, net, in_channels, num_classes):
    model = mr.MRNetwork(mr.MRArch.from_json(arch, where="architecture"), num_classes, in_channels)
    return model, model


def _nb201(arch, net, in_channels, num_classes):
    model = nasbench201.NB201Network(nasbench201.load_arch(arch), num_classes, C=net.width, N=net.cells_per_stage,
                                     in_channels=in_channels, variant=net.variant)
    return model, model


def _transnas(arch, net, in_channels, num_classes):
    model = transnas.TransNASNetwork(transnas.load_arch(arch), num_classes, base_channels=net.base_channels,
                                     in_channels=in_channels)
    return model, model


def _nb201_id(arch) -> str:
    """A NAS-Bench-201 cell's id: its official index (five digits), so tables keyed by index join."""
    return f"{nasbench201.index_of(arch):05d}"


def _without_repeats(archs: list, count: int, seed: int, ident) -> list:
    """The first ``count`` of a seeded permutation of a small space's ``archs`` (prefix-stable, no repeats)."""
    if count > len(archs):
        raise ConfigError(f"count={count} but the space holds {len(archs)} architectures; lower count or use archs=all")
    order = np.random.default_rng(seed).permutation(len(archs))[:count]
    return [(ident(archs[i]), archs[i]) for i in order]


def _benchmark_space(name: str, description: str, code, view_cls, network, archs: Callable[[], list], ident,
                     settings: tuple[str, ...]) -> Space:
    return Space(name, description, code, view_cls, network,
                 samples=lambda n, seed: _without_repeats(list(archs()), n, seed, ident),
                 enumerate=lambda: [(ident(a), a) for a in archs()], ident=ident, settings=settings)


SPACES: dict[str, Space] = {
    "darts": Space("darts", "DARTS cells (8 ops, 4 nodes, normal and reduce)", DartsCode, DartsSpace, _darts,
                   samples=lambda n, seed: [(s.id, s.genotype) for s in darts_sampler.sample_architectures(n, seed)],
                   read_samples=lambda p: [(s.id, s.genotype) for s in darts_sampler.load_samples(p)],
                   settings=("setting", "width", "cells")),
    "nasbench101": Space("nasbench101", "NAS-Bench-101 modules (≤ 7 vertices, ≤ 9 edges)", NB101Code, NB101Space,
                         _nb101, read_samples=lambda p: [(s.id, s.spec) for s in nb101.load_samples(p)],
                         settings=("setting", "stem_width", "num_stacks", "modules_per_stack")),
    "mr": Space("mr", "NAS-Bench-MR multi-resolution networks (27 integers)", mr.MRCode, mr.MRSpace, _mr,
                samples=lambda n, seed: mr.sample_architectures(n, seed=seed), read_samples=mr.load_samples),
    "nasbench201": _benchmark_space(
        "nasbench201", "NAS-Bench-201 / NATS-Bench topology cells (15,625; ids are the official indices)",
        nasbench201.NB201Code, nasbench201.NB201Space, _nb201,
        lambda: [nasbench201.arch_at(i) for i in range(nasbench201.NUM_ARCHS)], _nb201_id,
        ("width", "cells_per_stage", "variant")),
    "transnas_micro": _benchmark_space(
        "transnas_micro", "TransNAS-Bench-101 cell-level space (4,096 cells at 64-41414; ids are the strings)",
        transnas.MicroCode, transnas.TransNASMicroSpace, _transnas, transnas.micro_archs, str, ("base_channels",)),
    "transnas_macro": _benchmark_space(
        "transnas_macro", "TransNAS-Bench-101 macro-level space (3,256 skeletons; ids are the strings)",
        transnas.MacroCode, transnas.TransNASMacroSpace, _transnas, transnas.macro_archs, str, ("base_channels",)),
}


def _json_content(path: Path):
    """A ``.json`` file's parsed content (None when it is not one, or unreadable: the loaders report that)."""
    if path.suffix != ".json" or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def detect(spec: Any) -> tuple[Space, Any]:
    """``(space, architecture)`` of what a user gave on the command line: a benchmark string
    (``|nor_conv_3x3~0|+…``, ``64-41414-3_03_101``, ``64-2311-basic``), a JSON file of any space
    (``{"space": ...}``, NAS-Bench-101's ``{matrix, ops}``), a search run directory (its genotype.json,
    spec.json or arch.json), or a DARTS genotype (a published name, a file in the paper's list form)."""
    text = str(spec).strip()
    if text.startswith("|"):
        return SPACES["nasbench201"], SPACES["nasbench201"].load(text)
    if re.fullmatch(r"\d+-\d+-\S+", text):
        arch = transnas.load_arch(text)
        return SPACES[arch.space], arch
    path = Path(text)
    if path.is_dir():
        found = next((path / f for f in ("arch.json", "spec.json") if (path / f).is_file()), None)
        if found is not None:  # a black-box or NCP run of a space other than DARTS
            return detect(found)
    content = _json_content(path)
    if isinstance(content, dict) and str(content.get("space", "")).lower() in SPACES:
        space = get_space(content["space"])
        return space, space.load(path)
    if isinstance(content, dict) and "matrix" in content and "ops" in content:
        return SPACES["nasbench101"], SPACES["nasbench101"].load(path)
    return SPACES["darts"], load_genotype(spec)


def space_names() -> list[str]:
    return list(SPACES)


def get_space(name: str, key: str = "space") -> Space:
    """The space called ``name`` (or one of its aliases); a one-line error naming ``key`` otherwise."""
    space = SPACES.get(ALIASES.get(str(name).lower(), str(name).lower()))
    if space is None:
        raise ConfigError(f"{key}={name!r} is not a known space; choose one of {', '.join(SPACES)}")
    return space


def code_space(name: str, nodes: int = 4):
    """The code object (``encode``/``decode``/``project``/``groups``/``dim``) of a space: what NCP and
    predictors see, so they never branch on the space."""
    space = get_space(name)
    return space.code(nodes) if space.name == "darts" else space.code()


def view(name: str, nodes: int = 4):
    """The black-box view (sample/mutate/key/to_json/decisions) of a space."""
    space = get_space(name, "fitness.space")
    return space.view(nodes) if space.name == "darts" else space.view()
