"""The dataset base class: seeded per-sample augmentation behind a plain ``Dataset``."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .stats import IMAGENET_MEAN, IMAGENET_STD

NO_LABEL = -1
#: The paper's PCA lighting noise std (alphastd) for ImageNet, ImageNet-22K and Cityscapes.
PAPER_LIGHTING = 0.1


class ImageDataset(Dataset):
    """Subclasses implement ``__len__`` and ``load(index, generator)``.

    Indexing with ``(index, seed)`` (what :class:`~unnas.data.sampling.SeededSampler` yields)
    seeds a fresh generator for that sample; a plain int index uses an unseeded one.
    """

    #: Per-channel RGB statistics the tasks normalise with.
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    #: None (images only), "class" (int labels) or "mask" (per-pixel labels).
    label_kind: str | None = None
    num_classes: int | None = None
    #: Whether images carry colour (grayscale data is replicated to 3 channels).
    is_color: bool = True
    #: Std of the PCA lighting noise the tasks add to training images (0: none). The paper's
    #: ImageNet, ImageNet-22K and Cityscapes pipelines use 0.1 (``PAPER_LIGHTING``); CIFAR none.
    lighting: float = 0.0
    #: (mean, std) of L/100 for colorization when the paper used its own constants; None: derive
    #: them from ``mean``/``std``.
    luminance_stats: tuple[float, float] | None = None

    def load(self, index: int, generator: torch.Generator) -> tuple[Tensor, Any]:
        raise NotImplementedError

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, Any]:
        if isinstance(key, tuple):
            index, seed = key
            generator = torch.Generator().manual_seed(int(seed))
        else:
            index, generator = key, torch.Generator().manual_seed(torch.seed() & 0x7FFFFFFF)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {type(self).__name__} of length {len(self)}")
        return self.load(index, generator)

    def describe(self) -> dict:
        return {"reader": type(self).__name__, "images": len(self), "labels": self.label_kind,
                "num_classes": self.num_classes}
