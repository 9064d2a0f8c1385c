"""The eight DARTS operations, in the standard order.

``affine`` is False in the search supernet (the architecture weights, not BN scales, decide
what matters) and True in evaluation networks.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)

#: Short names used in diagrams and the paper's notation.
SHORT_NAMES = {
    "none": "none", "max_pool_3x3": "max3", "avg_pool_3x3": "avg3", "skip_connect": "skip",
    "sep_conv_3x3": "sep3", "sep_conv_5x5": "sep5", "dil_conv_3x3": "dil3", "dil_conv_5x5": "dil5",
    "sep_conv_7x7": "sep7", "conv_7x1_1x7": "c7x1_1x7",
}


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """ReLU, depthwise k×k (dilated), pointwise 1×1, BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int,
                 affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Two stacked (ReLU, depthwise k×k, pointwise 1×1, BN); only the first carries the stride."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The `none` op: zeros, spatially subsampled by the stride."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Stride-2 identity: two 1×1 stride-2 convs (the second shifted by one pixel), concatenated, BN."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(x)
        # Shift by one pixel and zero-pad back, so odd sizes give the same output size as conv_1.
        shifted = nn.functional.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))
        a = self.conv_1(x)
        b = self.conv_2(shifted)
        return self.bn(torch.cat([a, b], dim=1))


class Pool(nn.Module):
    """3×3 max or average pool (stride s, pad 1, padding excluded from averages), optionally followed by BN."""

    def __init__(self, kind: str, channels: int, stride: int, bn: bool):
        super().__init__()
        if kind == "max":
            self.pool = nn.MaxPool2d(3, stride=stride, padding=1)
        else:
            self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        self.bn = nn.BatchNorm2d(channels, affine=False) if bn else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.pool(x))


OpBuilder = Callable[[int, int, bool], nn.Module]


def build_op(name: str, channels: int, stride: int, affine: bool, pool_bn: bool = False) -> nn.Module:
    """Build one operation with ``channels`` in and out.

    ``pool_bn`` adds the affine-free BN the search supernet puts after every pooling op.
    """
    c = channels
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return Pool("max", c, stride, pool_bn)
    if name == "avg_pool_3x3":
        return Pool("avg", c, stride, pool_bn)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2, affine)
    if name == "sep_conv_7x7":
        return SepConv(c, c, 7, stride, 3, affine)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2, affine)
    if name == "conv_7x1_1x7":
        return nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )
    raise ValueError(f"unknown DARTS op {name!r}")


#: Every op name build_op understands (PRIMITIVES plus ops that appear in published genotypes).
ALL_OPS: tuple[str, ...] = PRIMITIVES + ("sep_conv_7x7", "conv_7x1_1x7")
