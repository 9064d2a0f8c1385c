"""Small task heads shared by several tasks. Heads take ``(features, input_size)``."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class PooledClassifier(nn.Module):
    """Global average pool then one linear layer (classification, rotation)."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, features: Tensor, input_size: tuple[int, int] | None = None) -> Tensor:
        return self.fc(features.mean(dim=(2, 3)))


class DenseClassifier(nn.Module):
    """1×1 conv to per-pixel logits, bilinearly upsampled (align_corners=True) to the input size."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward(self, features: Tensor, input_size: tuple[int, int]) -> Tensor:
        logits = self.conv(features)
        if tuple(logits.shape[-2:]) != tuple(input_size):
            logits = F.interpolate(logits, size=tuple(input_size), mode="bilinear", align_corners=True)
        return logits
