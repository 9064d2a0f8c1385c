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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

import unnas.spaces.nasbench101 as nb101
from eval.networks import build_network
from unnas.errors import ConfigError
from unnas.spaces import mr, nasbench201, transnas
from unnas.spaces.darts.code import DartsCode
from unnas.spaces.darts.genotype import Genotype
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
    #: Network settings (``network.*`` keys) the space reads; the others do not apply to it.
    settings: tuple[str, ...] = ()

    @property
    def arch_file(self) -> str:
        return self.code().arch_file

    def load(self, spec: Any, nodes: int = 4) -> Any:
        return self.code(nodes).load(spec) if self.name != "darts" else Genotype.from_obj(spec)

    def to_json(self, arch: Any) -> Any:
        return arch.to_list() if self.name == "darts" else self.code().to_json(arch)

    def canonical(self, arch: Any) -> str:
        """The arch's one-line text: the benchmark's string where it has one, else the code's description."""
        return str(self.load(arch))


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
    "nasbench201": Space("nasbench201", "NAS-Bench-201 / NATS-Bench topology cells (15,625)", nasbench201.NB201Code,
                         nasbench201.NB201Space, _nb201,
                         samples=lambda n, seed: nasbench201.sample_architectures(n, seed=seed),
                         enumerate=lambda: [(f"{i:05d}", a) for i, a in enumerate(nasbench201.all_archs())],
                         read_samples=nasbench201.load_samples, settings=("width", "cells_per_stage", "variant")),
    "transnas_micro": Space("transnas_micro", "TransNAS-Bench-101 cell-level space (4,096 cells at 64-41414)",
                            transnas.MicroCode, transnas.TransNASMicroSpace, _transnas,
                            samples=lambda n, seed: transnas.sample_architectures("transnas_micro", n, seed),
                            enumerate=lambda: [(f"{i:05d}", a) for i, a in enumerate(transnas.micro_archs())],
                            read_samples=transnas.load_samples, settings=("base_channels",)),
    "transnas_macro": Space("transnas_macro", "TransNAS-Bench-101 macro-level space (3,256 skeletons)",
                            transnas.MacroCode, transnas.TransNASMacroSpace, _transnas,
                            samples=lambda n, seed: transnas.sample_architectures("transnas_macro", n, seed),
                            enumerate=lambda: [(f"{i:05d}", a) for i, a in enumerate(transnas.macro_archs())],
                            read_samples=transnas.load_samples, settings=("base_channels",)),
}


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
