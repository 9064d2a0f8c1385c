"""Heads shared by search and evaluation networks. Heads take ``(features, input_size)``."""

from __future__ import annotations


import torch
from torch import Tensor, nn

from pretext.heads import ASPP, PooledClassifier  # noqa: F401 (ASPP: re-exported for its old home)

#: The evaluation networks' classifier: global average pool then one linear layer.
Classifier = PooledClassifier


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
