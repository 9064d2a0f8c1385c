"""The NAS-Bench-201 network of a cell: the benchmark's ``TinyNetwork`` (C=16, N=5), rebuilt.

- **Stem**: Conv 3×3 (``in_channels`` → C, stride 1, pad 1, no bias) → BN. No ReLU.
- **Stages**: N cells at C, a reduction block C → 2C, N cells at 2C, a reduction block 2C → 4C,
  N cells at 4C. Every searched cell has the same genotype and keeps width and resolution.
- **Cell**: node j = Σ_{i<j} op_{j←i}(node i), output node 3; no concatenation, no residual.
- **Ops**: ``none`` = x·0 (so it adds zeros to the node sum); ``skip_connect`` = identity;
  ``nor_conv_kxk`` = ReLU → Conv k×k (stride 1, pad k//2, no bias) → BN; ``avg_pool_3x3`` =
  AvgPool 3×3, stride 1, pad 1, ``count_include_pad=False`` (no BN, no ReLU).
- **Reduction block** (a ResNet basic block, stride 2): ReLU → Conv 3×3 s2 → BN, ReLU → Conv 3×3
  → BN, plus a shortcut AvgPool 2×2 s2 → Conv 1×1 (no bias, no BN); no ReLU after the sum.
- **Head**: BN → ReLU (:meth:`NB201Network.features` ends here, 4C channels) → global average
  pool → Linear(4C, classes).

BN uses PyTorch's defaults (eps 1e-5, momentum 0.1, affine, running statistics) and weights
PyTorch's default initialisation, as in the benchmark's training code.

``variant="zero_cost"`` is the network of the zero-cost-proxy papers (Abdelfattah et al. 2021 and
the code that followed it): inside the searched cells BN has ``affine=False`` and
``track_running_stats=False`` and the convolutions carry a bias; reduction blocks, stem and head are
as in the benchmark. Reproducing proxy scores needs this variant, benchmark costs the other.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from unnas.errors import GenotypeError

from .arch import EDGES, NB201Arch, load_arch

VARIANTS = ("benchmark", "zero_cost")


class Zero(nn.Module):
    """``none``: the input times zero (shape kept, so the node sum is unchanged)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, affine: bool = True,
                 track_running_stats: bool = True, bias: bool = False):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=bias),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track_running_stats),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


def make_op(name: str, channels: int, variant: str = "benchmark") -> nn.Module:
    """One cell op at ``channels`` wide, stride 1."""
    cell_bn = dict(affine=True, track_running_stats=True, bias=False)
    if variant == "zero_cost":
        cell_bn = dict(affine=False, track_running_stats=False, bias=True)
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, **cell_bn)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, **cell_bn)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise GenotypeError(f"NAS-Bench-201 network: no module for op {name!r}")  # NB201Arch rejects these first


class NB201Cell(nn.Module):
    """One searched cell: 4 nodes, 6 edges, output node 3 (width and resolution unchanged)."""

    def __init__(self, arch: NB201Arch, channels: int, variant: str = "benchmark"):
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels, variant) for op in arch.ops)

    def forward(self, x: Tensor) -> Tensor:
        nodes = [x]
        for to in (1, 2, 3):
            total = None
            for k, (t, frm) in enumerate(EDGES):
                if t == to:
                    y = self.edges[k](nodes[frm])
                    total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """The reduction block: two ReLU-Conv3×3-BN (the first at stride 2) plus an AvgPool-Conv1×1 shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        if stride == 2:
            self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0),
                                          nn.Conv2d(c_in, c_out, 1, stride=1, padding=0, bias=False))
        elif c_in != c_out:
            self.shortcut = ReLUConvBN(c_in, c_out, 1, 1)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network of a cell (see the module docstring).

    ``features(x)`` is the map after the head's BN-ReLU (``out_channels`` = 4C), for any task head;
    ``forward`` adds global average pooling and the linear classifier, or returns the features when
    ``num_classes`` is 0/None (use it as a trunk).
    """

    def __init__(self, arch: Any, num_classes: int | None = 10, C: int = 16, N: int = 5, in_channels: int = 3,
                 variant: str = "benchmark"):
        super().__init__()
        if variant not in VARIANTS:
            raise GenotypeError(f"NAS-Bench-201 network: unknown variant {variant!r}; "
                                f"choose from {', '.join(VARIANTS)}")
        for name, value in (("C", C), ("N", N), ("in_channels", in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GenotypeError(f"NAS-Bench-201 network: {name} must be an integer of at least 1, got {value!r}")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int)
                                        or num_classes < 0):
            raise GenotypeError(f"NAS-Bench-201 network: num_classes must be a non-negative integer or None, "
                                f"got {num_classes!r}")
        self.arch = arch = load_arch(arch)
        self.variant = variant
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c, 2))
                c *= 2
            layers += [NB201Cell(arch, c, variant) for _ in range(N)]
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.out_channels = c
        self.classifier = nn.Linear(c, num_classes) if num_classes else None

    def features(self, x: Tensor) -> Tensor:
        return self.lastact(self.cells(self.stem(x)))

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)
        if self.classifier is None:
            return f
        return self.classifier(torch.flatten(f.mean(dim=(2, 3)), 1))
