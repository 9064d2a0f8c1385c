"""Heads shared by search and evaluation networks. Heads take ``(features, input_size)``."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pretext.heads import PooledClassifier

#: The evaluation networks' classifier: global average pool then one linear layer.
Classifier = PooledClassifier


def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    padding = 0 if kernel == 1 else dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """DeepLabv3 atrous spatial pyramid pooling, then per-pixel logits upsampled to the input.

    Branches: a 1×1 conv, one 3×3 conv per rate, and image pooling → 1×1; each ``channels``
    wide with BN and ReLU. They are concatenated, fused by 1×1 + BN + ReLU, and mapped to
    ``num_classes`` by a 1×1 conv. Search uses 64 channels and rates (6,); evaluation 256 and
    (6, 12, 18).
    """

    def __init__(self, in_channels: int, num_classes: int, channels: int = 256, rates: Sequence[int] = (6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList([_conv_bn_relu(in_channels, channels, 1)])
        self.branches.extend(_conv_bn_relu(in_channels, channels, 3, dilation=r) for r in rates)
        self.image_pool = _conv_bn_relu(in_channels, channels, 1)
        self.fuse = _conv_bn_relu(channels * (len(rates) + 2), channels, 1)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Tensor, input_size: tuple[int, int]) -> Tensor:
        h, w = features.shape[-2:]
        outs = [branch(features) for branch in self.branches]
        pooled = self.image_pool(features.mean(dim=(2, 3), keepdim=True))
        outs.append(pooled.expand(-1, -1, h, w))
        logits = self.classifier(self.fuse(torch.cat(outs, dim=1)))
        return F.interpolate(logits, size=tuple(input_size), mode="bilinear", align_corners=True)


class _AuxiliaryHead(nn.Module):
    """ReLU, 5×5 average pool, 1×1 conv (128) + BN + ReLU, 2×2 conv (768) [+ BN] + ReLU, linear.

    Expects the 8×8 (CIFAR) or 7×7 (ImageNet) map after the second reduction, which the pool and
    the 2×2 conv bring to 1×1.
    """

    def __init__(self, in_channels: int, num_classes: int, pool_stride: int, bn_768: bool):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=pool_stride, padding=0, count_include_pad=False),
            nn.Conv2d(in_channels, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            *([nn.BatchNorm2d(768)] if bn_768 else []),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, features: Tensor, input_size: tuple[int, int] | None = None) -> Tensor:
        return self.classifier(torch.flatten(self.features(features), 1))


class AuxiliaryHeadCIFAR(_AuxiliaryHead):
    """DARTS CIFAR auxiliary head (8×8 input): pool stride 3, BN after the 768-channel conv."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__(in_channels, num_classes, pool_stride=3, bn_768=True)


class AuxiliaryHeadImageNet(_AuxiliaryHead):
    """DARTS ImageNet auxiliary head (7×7 input): pool stride 2 and, as in DARTS, no BN after the
    768-channel conv."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__(in_channels, num_classes, pool_stride=2, bn_768=False)
