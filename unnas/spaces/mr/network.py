"""The NAS-Bench-MR network of an architecture: HRNet-style stages of parallel branches.

- **Stem**: 3×3 conv stride 2 (i1) + BN + ReLU, 3×3 conv stride 2 (i2) + BN + ReLU: 1/4 resolution.
- **Stage s** runs ``b_s`` blocks. A block runs, on each branch k, ``n_s^k`` residual units of
  ``c_s^k`` channels, then a **fusion** that gives every branch the sum of all branches
  (HRNet's exchange unit): a lower-resolution input passes a 1×1 conv + BN and is upsampled
  (nearest) to the branch's size; a higher-resolution one passes strided 3×3 convs (+ BN, ReLU
  between them, none after the last); then ReLU. A one-branch stage has nothing to fuse.
- A **residual unit** is a basic block: 3×3 conv + BN + ReLU, 3×3 conv + BN, plus the input
  (identity, or a 1×1 conv + BN projection when the width changes), then ReLU. Only stage 1's
  first unit changes width (i2 → c_1^1, as HRNet's first stage projects its stem); the
  transitions below adapt every other branch beforehand.
- A **transition** before stage s > 1 adapts each existing branch k whose width changes with a
  3×3 conv (c_{s-1}^k → c_s^k) + BN + ReLU, and adds branch s by a stride-2 3×3 conv + BN + ReLU
  from the lowest-resolution branch of stage s-1.
- **Head**: the HRNet-v2 representation, chosen because it is the simplest that keeps every
  branch and a spatial map: branches 2–4 are upsampled (bilinear) to branch 1's size and
  concatenated, then a 1×1 conv to ``o`` channels + BN + ReLU. That 1/4-resolution map is
  :meth:`MRNetwork.features` (``out_channels`` = o, so dense heads such as ASPP sit on it);
  ``forward`` adds global average pooling and a linear classifier.

Sizes are matched by interpolating to the target branch's exact size, so any input works
(a 32-px image gives 8×8, 4×4, 2×2 and 1×1 branches).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .arch import load_arch


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, relu: bool = False) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, *([nn.ReLU(inplace=True)] if relu else []))


class BasicUnit(nn.Module):
    """Two 3×3 conv + BN with the (projected) input added back, then ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(c_in, c_out, 3, relu=True), conv_bn(c_out, c_out, 3))
        self.proj = conv_bn(c_in, c_out, 1) if c_in != c_out else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + (x if self.proj is None else self.proj(x)))


def _fusion_path(channels: Sequence[int], src: int, dst: int) -> nn.Module:
    """What branch ``src`` passes through on its way into branch ``dst``."""
    if src == dst:
        return nn.Identity()
    if src > dst:  # lower resolution: 1×1 conv here, upsampled in forward
        return conv_bn(channels[src], channels[dst], 1)
    c = channels[src]
    steps = [conv_bn(c, c, 3, 2, relu=True) for _ in range(dst - src - 1)]
    return nn.Sequential(*steps, conv_bn(c, channels[dst], 3, 2))


class Fusion(nn.Module):
    """Every branch gets the sum of all branches brought to its width and resolution, then ReLU."""

    def __init__(self, channels: Sequence[int]):
        super().__init__()
        n = len(channels)
        self.paths = nn.ModuleList(nn.ModuleList(_fusion_path(channels, j, i) for j in range(n)) for i in range(n))

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        out = []
        for i, row in enumerate(self.paths):
            total = xs[i]
            for j, path in enumerate(row):
                if j != i:
                    y = path(xs[j])
                    if j > i:
                        y = F.interpolate(y, size=xs[i].shape[-2:], mode="nearest")
                    total = total + y
            out.append(F.relu(total))
        return out


class Block(nn.Module):
    """One HRNet module: residual units per branch, then the fusion (none with one branch)."""

    def __init__(self, units: Sequence[int], channels: Sequence[int], c_in: Sequence[int]):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicUnit(c_in[k] if u == 0 else channels[k], channels[k]) for u in range(units[k])])
            for k in range(len(channels)))
        self.fuse = Fusion(channels) if len(channels) > 1 else None

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        ys = [branch(x) for branch, x in zip(self.branches, xs)]
        return ys if self.fuse is None else self.fuse(ys)


class Transition(nn.Module):
    """Adapt the existing branches' widths (3×3 conv where they change) and add one branch at half resolution."""

    def __init__(self, c_prev: Sequence[int], c_next: Sequence[int]):
        super().__init__()
        self.adapt = nn.ModuleList(conv_bn(a, b, 3, relu=True) if a != b else nn.Identity()
                                   for a, b in zip(c_prev, c_next))
        self.new = conv_bn(c_prev[-1], c_next[-1], 3, 2, relu=True)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        return [m(x) for m, x in zip(self.adapt, xs)] + [self.new(xs[-1])]


class MRNetwork(nn.Module):
    """The network of an MR architecture (anything :func:`~.arch.load_arch` accepts).

    ``features(x)`` is the head's 1/4-resolution map (``out_channels`` = o wide) for any task
    head; ``forward`` pools it and applies a linear classifier, or returns it when
    ``num_classes`` is 0/None (use the network as a trunk).
    """

    def __init__(self, arch: Any, num_classes: int | None = 10, in_channels: int = 3):
        super().__init__()
        self.arch = arch = load_arch(arch)
        i1, i2 = arch.stem
        self.stem = nn.Sequential(conv_bn(in_channels, i1, 3, 2, relu=True), conv_bn(i1, i2, 3, 2, relu=True))
        layers: list[nn.Module] = []
        c_in: Sequence[int] = (i2,)
        for s, stage in enumerate(arch.stages, start=1):
            if s > 1:
                layers.append(Transition(c_in, stage.channels))
                c_in = stage.channels
            for _ in range(stage.blocks):
                layers.append(Block(stage.units, stage.channels, c_in))
                c_in = stage.channels
        self.stages = nn.Sequential(*layers)  # each layer maps the list of branches to the next list
        self.merge = conv_bn(sum(c_in), arch.head, 1, relu=True)
        self.out_channels = arch.head
        self.classifier = nn.Linear(arch.head, num_classes) if num_classes else None

    def features(self, x: Tensor) -> Tensor:
        xs = self.stages([self.stem(x)])
        size = xs[0].shape[-2:]
        up = [xs[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=False) for y in xs[1:]]
        return self.merge(torch.cat(up, dim=1))

    def forward(self, x: Tensor) -> Tensor:
        f = self.features(x)
        if self.classifier is None:
            return f
        return self.classifier(f.mean(dim=(2, 3)))
