"""The DARTS search supernet: every edge of a cell is a softmax(α)-weighted mix of all 8 ops.

This is the plain per-edge form of the paper; it is also the reference a faster supernet is
checked against. The supernet emits feature maps only: the task attaches its own head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .genotype import Genotype, derive_genotype
from .ops import PRIMITIVES, FactorizedReduce, ReLUConvBN, build_op

STEMS = ("cifar", "imagenet")
REDUCTIONS = ("two", "one")


def num_edges(nodes: int) -> int:
    return sum(i + 2 for i in range(nodes))


def reduction_layers(layers: int, reductions: str) -> tuple[int, ...]:
    """Cells that halve the resolution: L//3 and 2L//3, or only L//3 for segmentation (output stride 16)."""
    if reductions == "two":
        return (layers // 3, 2 * layers // 3)
    if reductions == "one":
        return (layers // 3,)
    raise ValueError(f"reductions must be one of {REDUCTIONS}, got {reductions!r}")


class MixedOp(nn.Module):
    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.ops = nn.ModuleList(build_op(p, channels, stride, affine=False, pool_bn=True) for p in PRIMITIVES)

    def forward(self, x: Tensor, weights: Tensor) -> Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class SearchCell(nn.Module):
    def __init__(self, nodes: int, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.nodes = nodes
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_pp, c, affine=False) if reduction_prev else ReLUConvBN(c_pp, c, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList(
            MixedOp(c, 2 if reduction and j < 2 else 1) for i in range(nodes) for j in range(i + 2)
        )

    def forward(self, s0: Tensor, s1: Tensor, weights: Tensor) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        e = 0
        for i in range(self.nodes):
            s = sum(self.edges[e + j](h, weights[e + j]) for j, h in enumerate(states))
            e += len(states)
            states.append(s)
        return torch.cat(states[-self.nodes:], dim=1)


def build_stem(kind: str, in_channels: int, c: int, stem_multiplier: int = 3) -> tuple[nn.Module, nn.Module | None, int]:
    """Return (stem0, stem1, stem channels). CIFAR: one 3×3 conv (stride 1). ImageNet: stride 8 in two parts."""
    if kind == "cifar":
        c_stem = stem_multiplier * c
        return nn.Sequential(nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)), None, c_stem
    if kind == "imagenet":
        if c % 2:
            raise ValueError(f"the ImageNet stem needs an even width, got {c}")
        stem0 = nn.Sequential(
            nn.Conv2d(in_channels, c // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(inplace=True),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c),
        )
        stem1 = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c))
        return stem0, stem1, c
    raise ValueError(f"stem must be one of {STEMS}, got {kind!r}")


def cell_layout(cells: int, reductions: str, stem: str, c_stem: int, width: int, nodes: int):
    """Per cell: (c_pp, c_p, c, reduction, reduction_prev); every supernet implementation builds from it."""
    reduce_at = reduction_layers(cells, reductions)
    c_pp, c_p, c = c_stem, c_stem, width
    reduction_prev = stem == "imagenet"  # the ImageNet stem's second part halves s1 relative to s0
    plan = []
    for layer in range(cells):
        reduction = layer in reduce_at
        if reduction:
            c *= 2
        plan.append((c_pp, c_p, c, reduction, reduction_prev))
        reduction_prev = reduction
        c_pp, c_p = c_p, nodes * c
    return plan


def softmax_weights(alpha: Tensor, training: bool = True) -> Tensor:
    """DARTS's deterministic relaxation: every supernet's op weights unless told otherwise."""
    return F.softmax(alpha, dim=-1)


class SupernetBase(nn.Module):
    """What the search loop needs from any supernet implementation: α per cell type and what it derives.

    Subclasses build ``stem0``/``stem1``/``cells`` (each cell with a ``reduction`` flag), set
    ``nodes`` and then call :meth:`_init_alphas`.
    """

    nodes: int
    #: α (edges × ops) and training flag → op weights; a search swaps in its relaxation
    #: (unnas/search/relaxation.py), the supernet itself never looks at the config.
    op_weights = staticmethod(softmax_weights)

    def _init_alphas(self) -> None:
        e = num_edges(self.nodes)
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(e, len(PRIMITIVES)))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(e, len(PRIMITIVES)))
        # α of a cell type the network does not contain gets no gradient: freeze it so that
        # optimisers and DDP see only parameters that take part.
        kinds = {cell.reduction for cell in self.cells}
        self.alpha_normal.requires_grad_(False in kinds)
        self.alpha_reduce.requires_grad_(True in kinds)

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha_normal, self.alpha_reduce]

    def genotype(self) -> Genotype:
        return derive_genotype(self.alpha_normal.detach().cpu().numpy(), self.alpha_reduce.detach().cpu().numpy(), self.nodes)

    def alpha_weights(self) -> dict[str, Tensor]:
        """softmax(α) per cell type, for logs and heatmaps."""
        return {
            "normal": F.softmax(self.alpha_normal.detach(), dim=-1).cpu(),
            "reduce": F.softmax(self.alpha_reduce.detach(), dim=-1).cpu(),
        }


class Supernet(SupernetBase):
    """DARTS search trunk. ``forward`` returns the last cell's feature map (``out_channels`` wide)."""

    def __init__(self, width: int = 16, cells: int = 8, in_channels: int = 3, stem: str = "imagenet",
                 reductions: str = "two", nodes: int = 4, stem_multiplier: int = 3):
        super().__init__()
        self.nodes = nodes
        self.stem_kind = stem
        self.stem0, self.stem1, c_stem = build_stem(stem, in_channels, width, stem_multiplier)
        plan = cell_layout(cells, reductions, stem, c_stem, width, nodes)
        self.cells = nn.ModuleList(SearchCell(nodes, c_pp, c_p, c, red, red_prev) for c_pp, c_p, c, red, red_prev in plan)
        self.out_channels = nodes * plan[-1][2]
        self._init_alphas()

    def forward(self, x: Tensor) -> Tensor:
        kinds = {cell.reduction for cell in self.cells}
        w_normal = self.op_weights(self.alpha_normal, self.training) if False in kinds else None
        w_reduce = self.op_weights(self.alpha_reduce, self.training) if True in kinds else None
        s0 = self.stem0(x)
        s1 = self.stem1(s0) if self.stem1 is not None else s0
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, w_reduce if cell.reduction else w_normal)
        return s1


def split_parameters(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(weights, architecture) parameters of any module holding a supernet somewhere inside."""
    arch_ids = set()
    for m in model.modules():
        if isinstance(m, SupernetBase):
            arch_ids.update(id(p) for p in m.arch_parameters())
    arch = [p for p in model.parameters() if id(p) in arch_ids]
    weights = [p for p in model.parameters() if id(p) not in arch_ids]
    return weights, arch
