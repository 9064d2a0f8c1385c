"""Random DARTS architectures inside the paper's complexity window (the sample-based study's space).

A draw picks, independently for the normal and the reduce cell, for each of the 4 nodes two
inputs uniformly *with replacement* from the earlier states and an op for each uniformly from
all 8 DARTS ops (``none`` included); concat is always [2, 3, 4, 5]. A draw is kept only if the
CIFAR network it defines (C=16, 20 cells, 10 classes, no auxiliary head, one 32×32 image) has
both its parameter count and its multiply-adds within [80 %, 120 %] of ResNet-56's — the
filter explains why the paper's samples favour convolutions.

A sample's id is the 5-digit, zero-padded index of its draw in the seeded stream, so ids are
sparse (the paper's run from 00004 to 02771) and the same seed reproduces the same ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from eval.networks import CifarNetwork
from unnas.atomic import atomic_write_json
from unnas.complexity import count_madds, count_params
from unnas.errors import ConfigError, DataError, GenotypeError
from unnas.spaces.darts.genotype import Genotype
from unnas.spaces.darts.ops import PRIMITIVES, build_op

from .resnet import resnet56

ComplexityFn = Callable[[Genotype], tuple[int, int]]

#: ResNet-56 (CIFAR, pycls-style projection shortcuts) as counted by :mod:`unnas.complexity`;
#: pinned by tests against :func:`unnas.trials.resnet.resnet56`. The paper: 0.8558 M, 125.75 M.
RESNET56_PARAMS = 855_770
RESNET56_MADDS = 125_747_840
WINDOW = (0.8, 1.2)
NODES = 4
ID_DIGITS = 5


@dataclass(frozen=True)
class Sample:
    id: str
    genotype: Genotype
    params: int | None = None
    madds: int | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "genotype": self.genotype.to_list(), "params": self.params, "madds": self.madds}


def sample_cell(rng: np.random.Generator, nodes: int = NODES) -> list[tuple[str, int]]:
    pairs = []
    for node in range(2, nodes + 2):
        for _ in range(2):
            op = PRIMITIVES[int(rng.integers(len(PRIMITIVES)))]
            pairs.append((op, int(rng.integers(node))))
    return pairs


def sample_genotype(rng: np.random.Generator, nodes: int = NODES) -> Genotype:
    """One unconstrained draw: normal cell, then reduce cell, each independent and uniform."""
    concat = list(range(2, nodes + 2))
    normal = sample_cell(rng, nodes)
    return Genotype(normal, concat, sample_cell(rng, nodes), concat)


def darts_cifar_complexity(genotype: Genotype, width: int = 16, cells: int = 20, num_classes: int = 10,
                           image: int = 32) -> tuple[int, int]:
    """(params, multiply-adds) of the paper's sample network: CIFAR, C=16, 20 cells, 10 classes, no aux, 32×32.

    Builds and counts the whole network (on the ``meta`` device: shapes only); exact but about
    a second per call. :class:`CellOpComplexity` gives the same numbers in microseconds.
    """
    with torch.device("meta"):
        net = CifarNetwork(genotype, width=width, cells=cells, num_classes=num_classes, aux=False)
    return count_params(net), count_madds(net, (3, image, image))


class CellOpComplexity:
    """Fast exact (params, madds) of the sample network, as a fixed base plus one term per cell op.

    Only the cell ops depend on the genotype when the number of nodes and the concat are fixed
    (the stem, preprocessing 1×1 convs and classifier see the same channel counts), so one real
    network, built once, gives the base and every cell's (width, input resolution); each op's
    cost is counted with :mod:`unnas.complexity` on the op module alone and cached. Genotypes of
    another shape fall back to :func:`darts_cifar_complexity`.
    """

    def __init__(self, width: int = 16, cells: int = 20, num_classes: int = 10, image: int = 32):
        self._count_params, self._count_madds = count_params, count_madds
        self.settings = (width, cells, num_classes, image)
        self.reference = sample_genotype(np.random.default_rng(0))
        net = CifarNetwork(self.reference, width=width, cells=cells, num_classes=num_classes, aux=False)
        sizes: list[int] = []
        hooks = [cell.preprocess1.register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
                 for cell in net.trunk.cells]
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, image, image))
        for h in hooks:
            h.remove()
        #: per cell: (kind, node width, input resolution)
        self.slots = [("reduce" if cell.reduction else "normal", cell.out_channels // cell.multiplier, size)
                      for cell, size in zip(net.trunk.cells, sizes)]
        self._ops: dict[tuple, tuple[int, int]] = {}
        ref_p, ref_m = self._cell_ops(self.reference)
        self.base = (count_params(net) - ref_p, count_madds(net, (3, image, image)) - ref_m)

    def _op(self, op: str, c: int, stride: int, size: int) -> tuple[int, int]:
        key = (op, c, stride, size)
        if key not in self._ops:
            module = build_op(op, c, stride, affine=True)
            self._ops[key] = (self._count_params(module), self._count_madds(module, (c, size, size)))
        return self._ops[key]

    def _cell_ops(self, genotype: Genotype) -> tuple[int, int]:
        params = madds = 0
        for kind, c, size in self.slots:
            pairs, _concat = genotype.cell(kind)
            for op, inp in pairs:
                reducing = kind == "reduce" and inp < 2
                state_size = size if inp < 2 or kind == "normal" else (size + 1) // 2
                p, m = self._op(op, c, 2 if reducing else 1, state_size)
                params, madds = params + p, madds + m
        return params, madds

    def __call__(self, genotype: Genotype) -> tuple[int, int]:
        ref = self.reference
        if (genotype.nodes, genotype.normal_concat, genotype.reduce_concat) != (ref.nodes, ref.normal_concat, ref.reduce_concat):
            return darts_cifar_complexity(genotype, *self.settings)
        p, m = self._cell_ops(genotype)
        return self.base[0] + p, self.base[1] + m


def resnet56_complexity() -> tuple[int, int]:
    """Measure ResNet-56 with :mod:`unnas.complexity` (equals the pinned constants)."""
    with torch.device("meta"):
        net = resnet56()
    return count_params(net), count_madds(net, (3, 32, 32))


def in_window(params: int, madds: int, reference: tuple[int, int] = (RESNET56_PARAMS, RESNET56_MADDS),
              window: tuple[float, float] = WINDOW) -> bool:
    lo, hi = window
    ref_p, ref_m = reference
    return lo * ref_p <= params <= hi * ref_p and lo * ref_m <= madds <= hi * ref_m


def iter_samples(seed: int, complexity_fn: ComplexityFn | None = None,
                 reference: tuple[int, int] = (RESNET56_PARAMS, RESNET56_MADDS),
                 window: tuple[float, float] = WINDOW, nodes: int = NODES,
                 max_draws: int | None = None) -> Iterator[Sample]:
    """Accepted samples of the seeded stream (endless unless ``max_draws``); draw ``k`` gets id ``k``, zero-padded."""
    complexity_fn = complexity_fn or CellOpComplexity()
    rng = np.random.default_rng(seed)
    draw = 0
    while max_draws is None or draw < max_draws:
        genotype = sample_genotype(rng, nodes)
        params, madds = complexity_fn(genotype)
        if in_window(params, madds, reference, window):
            yield Sample(f"{draw:0{ID_DIGITS}d}", genotype, int(params), int(madds))
        draw += 1


def sample_architectures(n: int, seed: int = 0, complexity_fn: ComplexityFn | None = None,
                         reference: tuple[int, int] = (RESNET56_PARAMS, RESNET56_MADDS),
                         window: tuple[float, float] = WINDOW, max_draws: int = 100_000) -> list[Sample]:
    """The first ``n`` accepted samples of seed ``seed`` (default complexity: :class:`CellOpComplexity`)."""
    if n < 1:
        raise ConfigError(f"number of samples must be positive, got {n}")
    out: list[Sample] = []
    for sample in iter_samples(seed, complexity_fn, reference, window, max_draws=max_draws):
        out.append(sample)
        if len(out) == n:
            return out
    raise ConfigError(f"only {len(out)} of {n} draws fell inside the complexity window {list(window)} after "
                      f"{max_draws} draws; widen the window or check the complexity function")


def save_samples(path: str | Path, samples: list[Sample], **meta) -> Path:
    """JSON: ``{"space": "darts", **meta, "archs": [{"id", "genotype" (list form), "params", "madds"}]}``."""
    return atomic_write_json(path, {"space": "darts", **meta, "archs": [s.to_dict() for s in samples]})


def load_samples(path: str | Path) -> list[Sample]:
    """Read :func:`save_samples` files, and the paper's ``darts500.json`` layout (dict-form genotypes)."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"sample file {path} does not exist; create it with the sampler or pass another file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"sample file {path} is not valid JSON: {str(exc).splitlines()[0]}") from None
    archs = obj.get("archs") if isinstance(obj, dict) else None
    if not isinstance(archs, list):
        raise DataError(f"sample file {path}: expected {{\"archs\": [...]}} at the top level")
    out = []
    for i, arch in enumerate(archs):
        if not isinstance(arch, dict) or "id" not in arch:
            raise DataError(f"sample file {path}: entry {i} needs an \"id\" and a genotype")
        try:
            genotype = Genotype.from_obj(arch)
        except GenotypeError as exc:
            raise DataError(f"sample file {path}: entry {arch['id']}: {exc}") from None
        out.append(Sample(str(arch["id"]), genotype, arch.get("params"), arch.get("madds")))
    return out
