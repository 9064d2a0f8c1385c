"""Supervised semantic segmentation (Cityscapes), the labelled baseline of the paper's dense search.

Metrics follow the paper: intersection and union per class are accumulated over the whole
split (as a confusion matrix, so sums over batches and ranks are exact) and mIoU is the mean
over all ``num_classes`` of I / (U + 1e-10). A class absent from both predictions and targets
therefore scores 0 and pulls the mean down; on a full Cityscapes val split every class occurs.
Accuracies and IoUs are reported in percent, like top-1.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unnas.errors import TaskError

from .base import IMAGENET_MEAN, IMAGENET_STD, Task
from .heads import ASPP
from .metrics import confusion_matrix, iou_from_confusion
from .registry import register_task


@register_task
class SegmentationTask(Task):
    name = "segmentation"
    description = "per-pixel classification with the dataset's masks (Cityscapes: 19 classes, 255 ignored), ASPP head"
    needs_labels = "mask"

    def __init__(self, num_classes: int = 19, ignore_index: int = 255, aspp_channels: int = 64,
                 rates: Sequence[int] = (6,), mean=IMAGENET_MEAN, std=IMAGENET_STD, lighting: float = 0.0):
        super().__init__(mean, std, lighting)
        if int(num_classes) < 2:
            raise TaskError(f"segmentation needs num_classes >= 2, got {num_classes}")
        if 0 <= int(ignore_index) < int(num_classes):
            raise TaskError(f"segmentation ignore_index={ignore_index} is a real class id (0–{int(num_classes) - 1}); "
                            "use 255 or -1")
        if int(aspp_channels) < 1:
            raise TaskError(f"segmentation aspp_channels must be >= 1, got {aspp_channels}")
        rates = tuple(int(r) for r in (rates if isinstance(rates, (list, tuple)) else [rates]))
        if any(r < 1 for r in rates):
            raise TaskError(f"segmentation rates must be positive dilations, e.g. [6] or [6, 12, 18]; got {list(rates)}")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.aspp_channels = int(aspp_channels)
        self.rates = rates

    def prepare(self, images: Tensor, labels: Tensor | None = None, *, train: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        self.check_images(images)
        if labels is None:
            raise TaskError("segmentation needs a per-pixel label mask per image; this dataset has none "
                            "(use a mask reader such as cityscapes)")
        expected = (images.shape[0], *images.shape[-2:])
        if tuple(labels.shape) != expected or labels.is_floating_point():
            raise TaskError(f"segmentation needs integer masks of shape {expected} (B×H×W) matching the images, "
                            f"got {tuple(labels.shape)} {labels.dtype}; use a mask reader such as cityscapes")
        return self.normalize(images, train, generator), labels.to(device=images.device, dtype=torch.long)

    def build_head(self, in_channels: int) -> nn.Module:
        return ASPP(in_channels, self.num_classes, self.aspp_channels, self.rates)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy over non-ignored pixels; 0 (not NaN) for a batch with none, without a host sync."""
        total = F.cross_entropy(outputs, targets, ignore_index=self.ignore_index, reduction="sum")
        return total / (targets != self.ignore_index).sum().clamp_(min=1)

    def confusion(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return confusion_matrix(outputs.detach().argmax(dim=1), targets, self.num_classes, self.ignore_index)

    def metrics(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Pixel accuracy and mIoU of this batch alone (the split's mIoU comes from :meth:`summarize`)."""
        summary = scores(self.confusion(outputs, targets))
        return {"pixel_acc": summary["pixel_acc"].float(), "miou": summary["miou"].float()}

    def metric_sums(self, outputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        return {"confusion": self.confusion(outputs, targets)}

    def summarize(self, sums: dict[str, Tensor]) -> dict[str, float]:
        summary = scores(sums["confusion"])
        out = {"miou": float(summary["miou"]), "pixel_acc": float(summary["pixel_acc"])}
        out.update({f"iou/{k}": float(v) for k, v in enumerate(summary["iou"].tolist())})
        return out

    def describe(self) -> dict:
        return {**super().describe(), "num_classes": self.num_classes, "ignore_index": self.ignore_index,
                "aspp_channels": self.aspp_channels, "rates": list(self.rates)}


def scores(conf: Tensor) -> dict[str, Tensor]:
    """Percent mIoU, per-class IoU and pixel accuracy from a K×K confusion (rows true, cols predicted)."""
    iou, miou = iou_from_confusion(conf)
    conf = conf.double()
    pixel_acc = conf.diag().sum() / conf.sum().clamp(min=1)
    return {"miou": miou * 100.0, "iou": iou * 100.0, "pixel_acc": pixel_acc * 100.0}
