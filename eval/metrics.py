"""Metrics that accumulate over a whole split: top-k counts and confusion-matrix IoU."""

from __future__ import annotations

import torch
from torch import Tensor

IGNORE_INDEX = 255


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """K×K counts (rows: true class, cols: predicted) over pixels whose label is not ``ignore_index``."""
    valid = target != ignore_index
    t = target[valid].long()
    p = pred[valid].long()
    idx = t * num_classes + p
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_from_confusion(conf: Tensor, eps: float = 1e-10) -> tuple[Tensor, Tensor]:
    """(per-class IoU, mean IoU over classes), as I / (U + eps) per class."""
    conf = conf.double()
    inter = conf.diag()
    union = conf.sum(0) + conf.sum(1) - inter
    iou = inter / (union + eps)
    return iou, iou.mean()
