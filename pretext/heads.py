"""Small task heads shared by several tasks. Heads take ``(features, input_size)``."""

from __future__ import annotations

import math
from typing import Sequence

import torch
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


#: Decoder stages of :class:`ReconstructionDecoder`: enough ×2 upsamplings for a feature stride of 32.
DEFAULT_DECODER_STAGES = 5
#: Fewest channels a decoder stage narrows to.
MIN_DECODER_CHANNELS = 16


class DecoderStage(nn.Module):
    """Conv 3×3 → BN → ReLU → transposed conv 3×3 → BN → ReLU; the transposed conv's stride
    (2: doubles the side, 1: keeps it) is chosen per call, so one set of weights serves any stride."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        self.up = nn.ConvTranspose2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.post = nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    def forward(self, x: Tensor, upsample: bool) -> Tensor:
        stride = 2 if upsample else 1
        x = F.conv_transpose2d(self.conv(x), self.up.weight, None, stride=stride, padding=1,
                               output_padding=stride - 1)
        return self.post(x)


class ReconstructionDecoder(nn.Module):
    """pix2pix-style decoder from trunk features back to an image in [0, 1] (autoencoding).

    ``stages`` stages halve the channels each (down to :data:`MIN_DECODER_CHANNELS`); the last
    ``round(log2(input side / feature side))`` of them upsample ×2, so the upsampling depth follows
    the trunk's feature stride, known only at call time, while every weight is used at every
    stride (a head built before the trunk has seen data). A bilinear resize absorbs what powers of
    two cannot (28 → 7 → 28 is exact, 28 → 4 → 32 is resized), then a 3×3 conv and a sigmoid.
    """

    def __init__(self, in_channels: int, out_channels: int = 3, stages: int = DEFAULT_DECODER_STAGES):
        super().__init__()
        widths = [in_channels] + [max(MIN_DECODER_CHANNELS, in_channels >> (i + 1)) for i in range(stages)]
        self.stages = nn.ModuleList(DecoderStage(widths[i], widths[i + 1]) for i in range(stages))
        self.out = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def upsamplings(self, feature_size: tuple[int, int], input_size: tuple[int, int]) -> int:
        """How many stages double the side: log2 of the feature stride, rounded, at most ``stages``."""
        ratio = min(input_size) / max(min(feature_size), 1)
        return max(0, min(len(self.stages), round(math.log2(max(ratio, 1.0)))))

    def forward(self, features: Tensor, input_size: tuple[int, int]) -> Tensor:
        n_up = self.upsamplings(tuple(features.shape[-2:]), tuple(input_size))
        first_up = len(self.stages) - n_up
        x = features
        for i, stage in enumerate(self.stages):
            x = stage(x, upsample=i >= first_up)
        if tuple(x.shape[-2:]) != tuple(input_size):
            x = F.interpolate(x, size=tuple(input_size), mode="bilinear", align_corners=False)
        return torch.sigmoid(self.out(x))


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
