"""Supervised image classification, the labelled baseline every pretext task is compared with."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unnas.errors import TaskError

from .base import IMAGENET_MEAN, IMAGENET_STD, Task
from .heads import PooledClassifier
from .registry import register_task


@register_task
class ClassificationTask(Task):
    name = "classification"
    description = "supervised classification with the dataset's labels (the NAS-DARTS baseline)"
    needs_labels = "class"

    def __init__(self, num_classes: int = 1000, label_smoothing: float = 0.0,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, lighting: float = 0.0):
        super().__init__(mean, std, lighting)
        if int(num_classes) < 2:
            raise TaskError(f"classification needs num_classes >= 2, got {num_classes}")
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise TaskError(f"classification label_smoothing must be in [0, 1), got {label_smoothing}")
        self.num_classes = int(num_classes)
        self.label_smoothing = float(label_smoothing)

    def prepare(self, images: Tensor, labels: Tensor | None = None, *, train: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        self.check_images(images)
        if labels is None or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise TaskError("classification needs one integer label per image; this dataset has no labels "
                            "(use a labelled reader such as cifar10 or imagefolder, or a label-free task)")
        return self.normalize(images, train, generator), labels.long()

    def build_head(self, in_channels: int) -> nn.Module:
        return PooledClassifier(in_channels, self.num_classes)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return torch.nn.functional.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)

    def describe(self) -> dict:
        return {**super().describe(), "num_classes": self.num_classes}
